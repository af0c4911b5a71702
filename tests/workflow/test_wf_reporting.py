"""Reporting in plain language (issue #12 item 9): periods in hours, days, weeks or "since
monday"; people and paths in searches; an unknown search field named."""

from __future__ import annotations

from pathlib import Path

from bot.testing import TestBot
from tests.workflow.test_wf_duties import file_quota


def _bot(tmp_path: Path, model_dir: Path | None = None) -> TestBot:
    overrides = {"nlu": {"backend": "embedded", "model_dir": str(model_dir)}} if model_dir else {}
    return TestBot.create(tmp_path, overrides=overrides, load_nlu=model_dir is not None)


async def test_stats_periods_in_hours_days_weeks_and_since(tmp_path: Path) -> None:
    async with _bot(tmp_path) as bot:
        await bot.grant("sam", "staff")
        await file_quota(bot, "alice", "1TB", "/scratch/alice")
        for asked, said in (
            ("request stats last 2 hours", "Requests filed in the last 2 hours: 1"),
            ("request stats for the past 2 weeks", "Requests filed in the last 14 days: 1"),
            ("request stats last 7 days", "Requests filed in the last 7 days: 1"),
        ):
            (out,) = await bot.say("sam", asked)
            assert out.text.startswith(said), (asked, out.text)
        (since,) = await bot.say("sam", "request stats since monday")
        assert since.text.startswith("Requests filed in the last ")
        (bad,) = await bot.say("sam", "request stats since the dawn of time")
        assert "is not a date I understand" in bad.text


async def test_plain_language_stats_use_the_period_the_message_names(
    tmp_path: Path, nlu_model_dir: Path
) -> None:
    async with _bot(tmp_path, nlu_model_dir) as bot:
        await bot.grant("sam", "staff")
        (out,) = await bot.say("sam", "stats for last 7 days")
        assert out.text.startswith("Requests filed in the last 7 days"), out.text


async def test_search_by_person_and_path_in_plain_words_and_unknown_fields(
    tmp_path: Path,
) -> None:
    async with _bot(tmp_path) as bot:
        await bot.grant("sam", "staff")
        mine = await file_quota(bot, "alice", "1TB", "/scratch/alice")
        await file_quota(bot, "alice", "2TB", "/project/alice")
        await file_quota(bot, "bob", "3TB", "/scratch/bob")
        (out,) = await bot.say("sam", "find requests from alice about /scratch")
        assert out.text.splitlines()[0] == "1 request(s):"
        assert mine.ref in out.text
        (bad,) = await bot.say("sam", "search requests sise>5TB")
        assert bad.text.startswith("No request has a field 'sise'. Did you mean size?")
        assert "Fields you can search: " in bad.text and "add `type:NAME`" in bad.text
