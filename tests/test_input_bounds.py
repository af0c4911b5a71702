"""Input bounds (issue #13 item 9, in part): NULs and lone surrogates are cleaned at the edge,
absurd periods and over-long comments get clear answers; on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.inbound import storable
from bot.storage.models import Request, RequestEvent
from bot.testing import TestBot


@pytest.fixture
async def bot(tmp_path: Path, db_url: str):
    async with TestBot.create(tmp_path, database_url=db_url) as bot:
        await bot.grant("sam", "staff")
        yield bot


def test_storable_text() -> None:
    assert storable("a\x00b") == "ab"
    assert storable("x\ud800y") == "x\ufffdy"
    assert storable("plain ✓") == "plain ✓"


async def test_nul_and_lone_surrogates_never_become_internal_errors(bot: TestBot) -> None:
    await bot.say("alice", "request quota")
    for answer in ("1TB", "/project/alice", "data\x00 for \ud83d the thesis", "yes"):
        out = await bot.say("alice", answer)
        assert not any("went wrong" in s.text for s in out), answer
    req = await Request.filter().first()
    assert req is not None and req.fields_data["reason"] == "data for \ufffd the thesis"
    out = await bot.say("alice", f"comment {req.ref} \x00hello\ud800")
    assert out[0].text.startswith(f"Noted on {req.ref}")
    note = await RequestEvent.get(request_id=req.id, action="commented")
    assert note.comment == "hello\ufffd"


async def test_absurd_periods_and_long_comments_are_answered_clearly(bot: TestBot) -> None:
    (out,) = await bot.say("sam", "request stats for 999999999 days")
    assert "is longer than ten years, the most I report on" in out.text
    await bot.say("alice", "request quota")
    for answer in ("1TB", "/project/alice", "data", "yes"):
        await bot.say("alice", answer)
    (out,) = await bot.say("alice", "comment REQ-1 " + "x" * 5000)
    assert out.text.startswith("A comment can be at most 2,000 characters (yours has 5,000)")
    assert len(out.text) < 200  # the reply does not echo the input
    assert not await RequestEvent.filter(action="commented").exists()
