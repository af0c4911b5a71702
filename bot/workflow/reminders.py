"""Reminders for stalled steps, and polite notices for abandoned request drafts.

The last reminder is a ``RequestEvent`` ("reminded"), written in one transaction with its audit
record and its DMs (outbox rows, sent after the commit): a restart (or a second bot process that
lost the race) never repeats one within the interval, and a crash never loses one that was
recorded. "Now" is ``app.clock``'s, so tests move a ``FakeClock`` instead of back-dating rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tortoise.transactions import in_transaction

from bot.storage.models import Request, RequestEvent
from bot.workflow.dialogue import FOLLOWUP

if TYPE_CHECKING:
    from bot.app import Application
    from bot.workflow.engine import Workflows

log = logging.getLogger(__name__)

REMINDED = "reminded"


async def _claim(
    req: Request, state: str, since: datetime, interval: timedelta, now: datetime
) -> bool:
    """Record the reminder unless one was recorded within the interval (atomically enough:
    the row lock of the request serialises concurrent bots on PostgreSQL)."""
    async with in_transaction() as conn:
        locked = Request.filter(id=req.id)
        if conn.capabilities.dialect == "postgres":
            locked = locked.select_for_update()
        await locked.using_db(conn).first()
        last = (
            await RequestEvent.filter(request_id=req.id, action=REMINDED, to_state=state)
            .using_db(conn)
            .order_by("-id")
            .first()
        )
        latest = max(since, _reminded_at(last)) if last is not None else since
        if now - latest < interval:
            return False
        await RequestEvent.create(
            request=req,
            action=REMINDED,
            from_state=state,
            to_state=state,
            data={"at": now.isoformat()},
            using_db=conn,
        )
    return True


def _reminded_at(event: RequestEvent) -> datetime:
    """When a reminder went out: the job's clock (``data.at``), else the row's time."""
    raw = (event.data or {}).get("at")
    return datetime.fromisoformat(raw) if isinstance(raw, str) else event.created_at


async def remind_stalled(app: Application, wf: Workflows, now: datetime | None = None) -> int:
    """Ping the responsible people of every request waiting longer than its state allows."""
    now = now or app.clock.now()
    sent = 0
    states = {
        (name, state)
        for name, spec in wf.types.items()
        for state, s in spec.states.items()
        if s.remind_seconds and not s.terminal
    }
    if not states:
        return 0
    types = sorted({t for t, _ in states})
    for req in await Request.filter(type__in=types, deleted=False, closed_at=None):
        if (req.type, req.state) not in states:
            continue
        spec = wf.types[req.type]
        seconds = spec.states[req.state].remind_seconds
        assert seconds is not None
        entered = (
            await RequestEvent.filter(request_id=req.id, to_state=req.state)
            .exclude(action=REMINDED)
            .order_by("-id")
            .first()
        )
        since = entered.created_at if entered is not None else req.created_at
        interval = timedelta(seconds=seconds)
        if now - since < interval:
            continue
        people = wf.responsible(req, spec)
        if not people:
            continue
        text = (
            f"Reminder: {req.ref} ({wf.describe(req, spec)}) has been "
            f"{spec.state_label(req.state)} for {_ago(now - since)}. "
            f"Say `status of {req.ref}` to see it."
        )
        async with app.deliveries.recording():
            if not await _claim(req, req.state, since, interval, now):
                continue
            for key in people:
                await app.dm_later(key, text, key=req.ref)
            await app.audit.record_now("scheduler", "request.reminded", req.ref, people=people)
        sent += 1
    return sent


async def expire_drafts(app: Application) -> int:
    """Tell people whose unfinished request timed out, then forget the draft."""
    count = 0
    now = app.clock.now()
    for key in app.conversations.expired_keys(now):
        state = app.conversations.expired(key, now) or {}
        if state.get("followup") != FOLLOWUP:
            continue
        title = (state.get("data") or {}).get("type", "request").replace("_", " ")
        await app.conversations.clear(key)
        if (state.get("data") or {}).get("filed"):
            continue  # filed by a run that crashed before it could forget the draft: no news
        minutes = int(app.conversations.timeout.total_seconds() // 60)
        try:
            await app.post(
                key.platform,
                key.channel,
                f"I've set aside your unfinished {title} request (no answer for "
                f"{minutes} minutes); nothing was filed. Ask again whenever you're "
                "ready.",
                thread=key.thread,
            )
        except Exception:
            log.warning("could not tell %s that the draft expired", key, exc_info=True)
        count += 1
    return count


def _ago(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 48:
        return f"{int(hours // 24)} days"
    if hours >= 1:
        return f"{int(hours)} hours"
    return f"{int(delta.total_seconds() // 60)} minutes"
