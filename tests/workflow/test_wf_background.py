"""Point 8: the user who moves a request is answered first; copies, DMs and e-mail follow from the
outbox after the turn, a failed DM is retried and arrives, and stopping the bot drains what is
pending."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.events import Choice, PostedRef
from bot.storage.models import Delivery, Request
from bot.testing.harness import TestAdapter, TestBot


async def file_quota(bot: TestBot, user: str = "alice") -> Request:
    await bot.say(user, "request quota 2TB /scratch/x")
    await bot.say(user, "work")
    await bot.say(user, "yes")
    found = await Request.filter().order_by("-id").first()
    assert found is not None
    return found


class FlakyDMs(TestAdapter):
    """The platform drops the first DM about an approval (a test double of the platform)."""

    failures = 1

    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        if self.failures and "approved" in text:
            self.failures -= 1
            raise ConnectionError("the platform hung up")
        return await super().send_dm(user_id, text, choices=choices)


async def test_the_answer_comes_before_the_requesters_dm(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.grant("sam", "staff")
        req = await file_quota(bot)
        start = len(bot.sent)
        out = await bot.say("sam", f"approve {req.ref}")
        assert out[0].dm_to == "sam" and "approved by you" in out[0].text
        told = [i for i, s in enumerate(bot.sent[start:]) if s.dm_to == "alice"]
        assert told and told[0] > 0  # after sam's answer
        assert "was approved by sam" in bot.sent[start + told[0]].text


async def test_a_dm_that_fails_once_is_retried_and_arrives(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path, adapter_class=FlakyDMs) as bot:
        bot.app.deliveries.base_delay = 0.0
        await bot.grant("sam", "staff")
        req = await file_quota(bot)
        await bot.say("sam", f"approve {req.ref}")
        approved = [s for s in bot.dms_to("alice") if "was approved" in s.text]
        assert len(approved) == 1
        assert bot.app.stats.outbox_retried == 1 and bot.app.stats.outbox_failed == 0
        rows = [r for r in await Delivery.filter(kind="dm") if "was approved" in r.payload["text"]]
        assert [(r.state, r.attempts, r.last_error) for r in rows] == [
            ("done", 2, "ConnectionError")
        ]


async def test_stopping_the_bot_drains_pending_work(tmp_path: Path) -> None:
    bot = TestBot.create(tmp_path)
    await bot.app.start()
    try:
        await bot.grant("sam", "staff")
        req = await file_quota(bot)
        await bot.say("sam", f"approve {req.ref}", wait=False)
        assert "outbox: deliver" in bot.app.background.pending
    finally:
        await bot.app.stop()
    assert [s for s in bot.dms_to("alice") if "was approved" in s.text]
    card = next(s for s in bot.sent if s.channel == "helpdesk-storage")
    assert "approved" in card.text and not bot.app.background.pending
