"""Issue #13 item 7: filing is idempotent per draft. The draft's key is stored with the request,
so the same answers confirmed again -- a draft restored after a crash, a second click on
*File it* -- find the request instead of filing a duplicate."""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import Conversation, Delivery, Request
from bot.testing.harness import TestBot


async def test_the_same_draft_confirmed_again_files_nothing_new(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.say("alice", "request quota 2TB /scratch/x")
        await bot.say("alice", "work")
        before = await Conversation.get()  # the draft, waiting for "yes"
        out = await bot.say("alice", "yes")
        assert any("I filed REQ-1" in s.text for s in out)
        await bot.app.conversations.save(before.key, before.state)  # as if never forgotten
        again = await bot.say("alice", "yes")
        assert (
            again[0].text == "REQ-1 was already filed from these answers, so I filed nothing new."
        )
        assert len(again) == 1  # alice's copy of the card was shown the first time
        assert await Request.all().count() == 1
        assert bot.app.conversations.peek(before.key) is None  # and the draft is gone
        posted = [s for s in bot.sent if s.channel == "helpdesk-storage" and "REQ-" in s.text]
        assert len(posted) == 1
        assert await Delivery.filter(state="pending").count() == 0


async def test_a_new_draft_with_the_same_answers_is_a_new_request(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        for _ in range(2):
            await bot.say("alice", "request quota 2TB /scratch/x")
            await bot.say("alice", "work")
            await bot.say("alice", "yes")
        assert await Request.all().count() == 2  # a second request on purpose is not a repeat
        keys = {r.draft_key for r in await Request.all()}
        assert len(keys) == 2 and None not in keys
