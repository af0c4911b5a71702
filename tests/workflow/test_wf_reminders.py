"""Reminders and draft expiry run on ``app.clock``: tests move a FakeClock instead of sleeping
or back-dating rows. A reminder is sent once per interval, also across a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.storage.models import AuditEvent, Request, RequestEvent
from bot.testing import FakeClock, TestBot
from bot.workflow.engine import service
from bot.workflow.reminders import expire_drafts, remind_stalled


async def file_quota(bot: TestBot, user: str, size: str) -> Request:
    await bot.say(user, f"request quota {size} /scratch/x")
    out = await bot.say(user, "work")
    if "purchase" in out[-1].text.lower():
        await bot.say(user, "PO-1")
    await bot.say(user, "yes")
    found = await Request.filter().order_by("-id").first()
    assert found is not None
    return found


async def test_reminders_ping_responsible_people_once_even_after_a_restart(
    tmp_path: Path, db_url: str
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        await bot.grant("mary", "management")
        await bot.grant("sam", "staff")
        req = await file_quota(bot, "alice", "8TB")
        wf = service(bot.app)
        clock.advance(hours=47)
        assert await remind_stalled(bot.app, wf) == 0  # not yet (2 days)
        clock.advance(hours=2)
        assert await remind_stalled(bot.app, wf) == 1
        await bot.app.background.idle()
        reminders = [s for s in bot.dms_to("mary") if s.text.startswith("Reminder")]
        assert len(reminders) == 1 and req.ref in reminders[0].text
        assert "for 2 days" in reminders[0].text
        assert not [s for s in bot.dms_to("sam") if s.text.startswith("Reminder")]  # 8 TB
        clock.advance(hours=1)
        assert await remind_stalled(bot.app, wf) == 0
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:  # restart
        wf = service(bot.app)
        clock.advance(hours=1)
        assert await remind_stalled(bot.app, wf) == 0
        assert not bot.dms_to("mary")
        clock.advance(hours=47)  # the next interval
        assert await remind_stalled(bot.app, wf) == 1
        await bot.app.background.idle()
        assert len(bot.dms_to("mary")) == 1
        assert await RequestEvent.filter(request_id=req.id, action="reminded").count() == 2


async def test_a_recorded_reminder_is_sent_even_by_another_process(
    tmp_path: Path, db_url: str
) -> None:
    """Recorded as reminded means sent: the reminder is stored with the record, so a process
    that cannot send (or dies right after the commit) leaves it to the next one that can."""
    clock = FakeClock(datetime.now(UTC))
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        await bot.grant("mary", "management")
        req = await file_quota(bot, "alice", "8TB")
        await bot.app.background.idle()
        bot.app.deliveries.sending = False
        clock.advance(hours=49)
        assert await remind_stalled(bot.app, service(bot.app)) == 1
        await bot.app.background.idle()
        assert not [s for s in bot.dms_to("mary") if s.text.startswith("Reminder")]
        await bot.app.audit.flush()
        assert await AuditEvent.filter(kind="request.reminded", target=req.ref).count() == 1
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        await bot.app.deliveries.deliver_due()
        reminders = [s for s in bot.dms_to("mary") if s.text.startswith("Reminder")]
        assert len(reminders) == 1 and req.ref in reminders[0].text
        assert await remind_stalled(bot.app, service(bot.app)) == 0


async def test_an_abandoned_draft_expires_politely_when_the_clock_passes_the_timeout(
    tmp_path: Path,
) -> None:
    clock = FakeClock(datetime.now(UTC))
    async with TestBot.create(
        tmp_path, clock=clock, overrides={"conversations.timeout_minutes": 30}
    ) as bot:
        await bot.say("dave", "request quota", channel="general")
        clock.advance(minutes=29)
        assert await expire_drafts(bot.app) == 0  # still within 30 minutes
        clock.advance(minutes=2)
        start = len(bot.sent)
        assert await expire_drafts(bot.app) == 1
        notice = bot.sent[start:]
        assert len(notice) == 1 and notice[0].channel == "general"
        assert "set aside your unfinished quota request" in notice[0].text
        assert "no answer for 30 minutes" in notice[0].text
        assert await expire_drafts(bot.app) == 0  # told once
