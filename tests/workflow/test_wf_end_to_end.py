"""The whole chain on SQLite and PostgreSQL: ask in plain words, answer, approvals with role
checks, completion, DM + e-mail to the requester, statistics, and the CSV export from the CLI."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from bot.cli import main as cli_main
from bot.storage.models import PostedCopy, Request, RequestEvent
from bot.testing.harness import TestBot

TB = 10**12


async def test_quota_request_from_plain_words_to_completion(
    tmp_path: Path, db_url: str, smtp: object, nlu_model_dir: Path
) -> None:
    overrides = {
        "email": {
            "enabled": True,
            "host": "127.0.0.1",
            "port": smtp.port,  # type: ignore[attr-defined]
            "from": "quartermaster@hpc.example.org",
        },
        "nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)},
    }
    bot = TestBot.create(tmp_path, database_url=db_url, overrides=overrides, load_nlu=True)
    async with bot:
        await bot.grant("sam", "staff")
        await bot.grant("mary", "management")
        await bot.grant("root", "admin")
        await bot.app.users.ensure("test", "alice", "alice", email="alice@uni.example.org")

        # a researcher asks in plain language; size and path come from the sentence
        out = await bot.say("alice", "I need 8TB more on /scratch/group/neuro please")
        assert "what is the space for" in out[-1].text.lower(), [s.text for s in out]
        out = await bot.say("alice", "imaging data of the neuro lab")
        assert "8 TB" in out[-1].text and "/scratch/group/neuro" in out[-1].text
        assert await Request.all().count() == 0  # nothing before "yes"
        out = await bot.say("alice", "yes")

        # records first: the request and its first event exist once the bot says so
        req = await Request.get(type="quota")
        assert req.state == "submitted" and req.fields_data["size"] == 8 * TB
        assert [e.action for e in await RequestEvent.filter(request_id=req.id)] == ["submitted"]
        assert any(f"filed {req.ref}" in s.text for s in out)
        card = next(s for s in out if s.channel == "helpdesk-storage")
        assert card.labels == ["Approve", "Deny", "Cancel"]
        assert "@mary" in card.text and "@sam" not in card.text  # 8 TB waits for management
        assert await PostedCopy.filter(request_id=req.id).count() == 2

        # staff may not approve 8 TB: refused privately, with the reason; nothing changes
        out = await bot.click("sam", card, "Approve")
        assert [s.dm_to for s in out] == ["sam"]
        assert "5 TB" in out[0].text and "management" in out[0].text
        assert (await Request.get(id=req.id)).state == "submitted"

        # the manager approves; every copy is updated and the requester told
        out = await bot.click("mary", card, "Approve")
        assert (await Request.get(id=req.id)).state == "approved"
        assert (
            "approved" in card.text and card.edits and card.labels == ["Deny", "Complete", "Cancel"]
        )
        mine = next(s for s in bot.sent if s.dm_to == "alice" and s.text.startswith("*REQ"))
        assert "approved" in mine.text and mine.labels == ["Cancel"]
        assert any("was approved by mary" in s.text for s in bot.dms_to("alice"))

        # the admin completes it by text, in the channel
        out = await bot.say("root", f"complete {req.ref}", channel="helpdesk-storage")
        done = await Request.get(id=req.id)
        assert done.state == "completed" and done.closed_at is not None
        assert "— done" in card.text and card.labels == []
        assert any("was completed by root" in s.text for s in bot.dms_to("alice"))
        events = await RequestEvent.filter(request_id=req.id).prefetch_related("actor")
        assert [(e.action, e.actor.name) for e in events] == [
            ("submitted", "alice"),
            ("approve", "mary"),
            ("complete", "root"),
        ]

        # e-mail went through a real SMTP server
        mails = smtp.messages  # type: ignore[attr-defined]
        assert [m.rcpt_tos for m in mails] == [["alice@uni.example.org"]] * 2
        bodies = [m.content.decode() for m in mails]
        assert f"Subject: [Quartermaster] {req.ref} approved" in bodies[0]
        assert f"Subject: [Quartermaster] {req.ref} completed" in bodies[1]

        # the statistics count it
        out = await bot.say("root", "request stats")
        assert "Storage quota: 1 (completed 1)" in out[0].text
        assert "over 1 completed" in out[0].text

    # the CSV export from the command line (the bot is stopped; a fresh process would do the
    # same); run in a thread because the CLI owns its own event loop
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\n", encoding="utf-8")
    target = tmp_path / "requests.csv"
    code = await asyncio.to_thread(
        cli_main, ["--config", str(config), "requests", "export", "--csv", "--output", str(target)]
    )
    assert code == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["type"], row["state"], row["requester"]) == (
        req.ref,
        "quota",
        "completed",
        "test:alice",
    )
    assert row["field:size"] == str(8 * TB) and row["field:path"] == "/scratch/group/neuro"
    assert row["created_at"] and row["closed_at"]
