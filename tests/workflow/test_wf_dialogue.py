"""The request dialogue without the language model: command form, validation with reasons,
corrections, cancel, restart survival, and records-first on a database failure."""

from __future__ import annotations

from pathlib import Path

from tortoise import Tortoise

from bot.storage.models import Request
from bot.testing.harness import TestBot

TB = 10**12


def make(tmp_path: Path, **overrides: object) -> TestBot:
    return TestBot.create(tmp_path, overrides=overrides)


async def test_asks_only_for_missing_fields_validates_and_accepts_corrections(
    tmp_path: Path,
) -> None:
    async with make(tmp_path) as bot:
        out = await bot.say("alice", "request quota 2TB")  # size given: not asked
        assert "storage area" in out[-1].text
        out = await bot.say("alice", "my home folder")
        assert "isn't a path" in out[-1].text and "storage area" in out[-1].text
        out = await bot.say("alice", "/etc/shadow")
        assert "under /scratch, /project, /home or /work" in out[-1].text
        out = await bot.say("alice", "/scratch/group/neuro")
        assert "what is the space for" in out[-1].text.lower()
        out = await bot.say("alice", "actually make it 8TB")  # correction mid-way
        assert "Size is now 8 TB" in out[-1].text
        assert "what is the space for" in out[-1].text.lower()  # and the question again
        out = await bot.say("alice", "simulation output")
        assert "8 TB" in out[-1].text and out[-1].labels == ["File it", "Discard"]
        out = await bot.say("alice", "size: 200TB")  # over the maximum
        assert "more than the maximum" in out[-1].text and "100 TB" in out[-1].text
        out = await bot.say("alice", "12TB")  # bare value at summary
        assert "Size is now 12 TB" in out[-1].text
        assert "purchase reference" in out[-1].text.lower()  # now needed (> 10 TB)
        out = await bot.say("alice", "PO-77")
        out = await bot.click("alice", out[-1], "File it")
        req = await Request.get()
        assert req.fields_data == {
            "size": 12 * TB,
            "path": "/scratch/group/neuro",
            "reason": "simulation output",
            "purchase_ref": "PO-77",
        }
        assert any(f"filed {req.ref}" in s.text for s in out)


async def test_choice_fields_offer_buttons_and_defaults_fill_optional_fields(
    tmp_path: Path,
) -> None:
    async with make(tmp_path) as bot:
        out = await bot.say("bob", "request software")
        assert "Which software" in out[-1].text
        out = await bot.say("bob", "gromacs")
        assert out[-1].labels == ["grace", "aces", "terra"]
        out = await bot.say("bob", "jupiter")
        assert "isn't one of the options" in out[-1].text
        out = await bot.click("bob", out[-1], "aces")
        assert "Version: latest" in out[-1].text and "Licence: open source" in out[-1].text
        await bot.say("bob", "yes")
        req = await Request.get()
        assert req.type == "software_install" and req.fields_data["cluster"] == "aces"


async def test_cancel_anywhere_files_nothing(tmp_path: Path) -> None:
    async with make(tmp_path) as bot:
        await bot.say("alice", "request an account")
        await bot.say("alice", "alice2")
        out = await bot.say("alice", "never mind")
        assert "Nothing was filed" in out[-1].text
        out = await bot.say("alice", "grace")
        assert "didn't understand" in out[-1].text  # the draft is gone
        assert await Request.all().count() == 0


async def test_unknown_type_is_a_friendly_answer(tmp_path: Path) -> None:
    async with make(tmp_path) as bot:
        out = await bot.say("alice", "request unicorn")
        assert "I don't know a unicorn request" in out[-1].text and "quota" in out[-1].text


async def test_the_draft_survives_a_restart(tmp_path: Path) -> None:
    async with make(tmp_path) as bot:
        await bot.say("carol", "request walltime job_id=4412345")
    async with make(tmp_path) as bot:
        out = await bot.say("carol", "36 hours")
        assert "cluster" in out[-1].text.lower()
        await bot.say("carol", "grace")
        await bot.say("carol", "yes")
        req = await Request.get()
        assert req.fields_data == {"job_id": "4412345", "extra": "PT36H", "cluster": "grace"}


async def test_records_first_a_failed_write_files_nothing_and_says_so(tmp_path: Path) -> None:
    async with make(tmp_path) as bot:
        await bot.say("alice", "request quota 1TB /scratch/a")
        await bot.say("alice", "tests")
        # break the history table: the request row is written, then the event insert fails
        await Tortoise.get_connection("default").execute_script(
            "ALTER TABLE qm_request_event RENAME TO qm_request_event_gone"
        )
        out = await bot.say("alice", "yes")
        assert "nothing was filed" in out[-1].text and "ref" not in out[-1].text
        assert await Request.all().count() == 0  # rolled back, not half
        assert not any(s.channel == "helpdesk-storage" for s in bot.sent)
        await Tortoise.get_connection("default").execute_script(
            "ALTER TABLE qm_request_event_gone RENAME TO qm_request_event"
        )
        out = await bot.say("alice", "yes")  # answers were kept
        assert await Request.all().count() == 1
