"""Observers: named periodic checks that warn people about what they were handed out.

An observer (``name``, ``every``, ``async check(app, now) -> list[Finding]``) reports what is
true now ("vm:12 has been idle for 3 days"); the runner decides whom to tell. Per-subject state
in ``ObserverState`` makes that decision survive restarts: a (subject, kind) is told once, and
again only after the repeat interval; nothing is told while a subject is snoozed; the state of
subjects the observer no longer reports is dropped. The state, the audit record and the
messages (outbox rows: DMs with their buttons, e-mails) are written in one transaction, so a
warning recorded as told is sent (after the commit, retried; by a running bot when the run was
``quartermaster observers run``) and a restart never repeats one. Each firing runs in one
process only (the scheduler's Redis claim), and one failing observer is logged and audited
without stopping the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from tortoise.transactions import in_transaction

from bot.deliveries import EMAIL
from bot.events import Choice

if TYPE_CHECKING:
    from bot.app import Application
    from bot.storage.models import ObserverState

log = logging.getLogger(__name__)

DEFAULT_REPEAT = timedelta(hours=24)

#: set while observers run as a rehearsal (``quartermaster observers run --dry-run``): an observer
#: that acts (deletes an expired VM) only reports what it would do
DRY_RUN: ContextVar[bool] = ContextVar("observers_dry_run", default=False)


@dataclass(frozen=True, slots=True)
class Finding:
    """Something worth telling: ``subject`` ("vm:12") is ``kind`` ("idle", "expires-15d")."""

    subject: str
    kind: str
    text: str
    notify: tuple[str, ...] = ()  # user keys (platform:id) or person keys
    choices: tuple[Choice, ...] = ()  # e.g. Extend / Release / Snooze buttons
    #: also e-mailed, with this subject, when e-mail is set up (to ``email_to``, else ``notify``)
    email_subject: str = ""
    email_to: tuple[str, ...] | None = None
    #: still true, but not to be told now (quiet hours): the subject's state is kept, and the
    #: kind is told at the first run without ``hold``
    hold: bool = False


@runtime_checkable
class Observer(Protocol):
    name: str
    every: timedelta

    async def check(self, app: Application, now: datetime) -> list[Finding]: ...


@dataclass(slots=True)
class _Entry:
    observer: Observer
    owner: str
    last_run: datetime | None = None
    repeat_after: timedelta | None = None


@dataclass(slots=True)
class RunReport:
    """What one run did: findings told, held back (already told / snoozed), or the error."""

    told: list[Finding] = field(default_factory=list)
    held: list[Finding] = field(default_factory=list)
    error: str | None = None


class ObserverRunner:
    """``app.observers``: registers observers, schedules them, and keeps their state."""

    def __init__(self, app: Application, *, repeat_after: timedelta = DEFAULT_REPEAT) -> None:
        self.app = app
        self.repeat_after = repeat_after
        self._entries: dict[str, _Entry] = {}
        self._started = False

    # -- registration --------------------------------------------------------------------------
    def add(self, observer: Observer, owner: str, *, repeat_after: timedelta | None = None) -> None:
        """Register ``observer`` for ``owner`` (a skill); scheduled at once if running."""
        current = self._entries.get(observer.name)
        if current is not None and current.owner != owner:
            raise ValueError(f"observer {observer.name!r} is already registered by {current.owner}")
        self._entries[observer.name] = _Entry(observer, owner, repeat_after=repeat_after)
        if self._started:
            self._schedule(observer)

    def remove_owner(self, owner: str) -> list[str]:
        """Forget (and unschedule) every observer of ``owner``; their state rows stay."""
        gone = [name for name, e in self._entries.items() if e.owner == owner]
        for name in gone:
            del self._entries[name]
            if self.app.scheduler is not None:
                self.app.scheduler.remove_periodic(job_id(name))
        return gone

    @property
    def names(self) -> list[str]:
        return sorted(self._entries)

    def observer(self, name: str) -> Observer:
        """The registered observer ``name`` (``KeyError`` if none), e.g. for a rehearsal."""
        return self._entries[name].observer

    # -- scheduling ----------------------------------------------------------------------------
    def start(self) -> None:
        """Put every registered observer on the app's scheduler (called once it exists)."""
        self._started = True
        for entry in self._entries.values():
            self._schedule(entry.observer)

    async def stop(self) -> None:
        self._started = False
        if self.app.scheduler is not None:
            for name in self._entries:
                self.app.scheduler.remove_periodic(job_id(name))

    def _schedule(self, observer: Observer) -> None:
        scheduler = self.app.scheduler
        if scheduler is None:
            return
        scheduler.add_periodic(
            job_id(observer.name), lambda: self.fire(observer.name), observer.every
        )

    async def fire(self, name: str) -> RunReport | None:
        """A scheduled firing: runs unless another process claimed this time slot (Redis)."""
        entry = self._entries.get(name)
        scheduler = self.app.scheduler
        if entry is None or scheduler is None:
            return None
        if not await scheduler.claim(job_id(name), entry.observer.every.total_seconds()):
            return None
        return await self.run(name)

    # -- running -------------------------------------------------------------------------------
    async def run_due(self, now: datetime | None = None) -> dict[str, RunReport]:
        """Run every observer whose interval has passed since its last run (tests, the CLI)."""
        now = now or self.app.clock.now()
        due = [
            name
            for name, e in self._entries.items()
            if e.last_run is None or now - e.last_run >= e.observer.every
        ]
        return {name: await self.run(name, now) for name in due}

    async def run(self, name: str, now: datetime | None = None) -> RunReport:
        """Run one observer now; an error is logged, audited and reported, never raised."""
        entry = self._entries.get(name)
        if entry is None:
            raise KeyError(name)
        now = now or self.app.clock.now()
        entry.last_run = now
        self.app.stats.observer_runs += 1
        try:
            findings = await entry.observer.check(self.app, now)
            return await self._settle(name, findings, now, entry.repeat_after or self.repeat_after)
        except Exception as exc:
            log.exception("observer %s failed", name)
            self.app.stats.observer_errors += 1
            self.app.audit.record(
                "observers", "observer.error", name, "error", error=type(exc).__name__
            )
            return RunReport(error=type(exc).__name__)

    async def _settle(
        self, name: str, findings: Sequence[Finding], now: datetime, repeat: timedelta
    ) -> RunReport:
        """Decide what to tell, and record it with its audit entry and its messages in one
        transaction: all are stored or none is."""
        async with self.app.deliveries.recording():
            report = await self._decide(name, findings, now, repeat)
            for finding in report.told:
                await self._tell(name, finding)
        return report

    async def _decide(
        self, name: str, findings: Sequence[Finding], now: datetime, repeat: timedelta
    ) -> RunReport:
        from bot.storage.models import ObserverState

        report = RunReport()
        by_subject: dict[str, list[Finding]] = {}
        for finding in findings:
            by_subject.setdefault(finding.subject, []).append(finding)
        async with in_transaction() as conn:
            rows = {
                row.subject: row for row in await ObserverState.filter(observer=name).using_db(conn)
            }
            for subject, row in rows.items():
                if subject not in by_subject:
                    await row.delete(using_db=conn)  # gone: forget alerts and snoozes
            for subject, found in by_subject.items():
                row = rows.get(subject) or await ObserverState.create(
                    observer=name, subject=subject, using_db=conn
                )
                if _snoozed(row, now):
                    report.held += found
                    continue
                alerts = _alerts(row)
                if row.snooze_until is not None:  # a spent snooze: tell afresh
                    alerts, row.snooze_until = {}, None
                kinds = {f.kind for f in found}
                alerts = {k: v for k, v in alerts.items() if k in kinds}  # cleared kinds reset
                for finding in found:
                    last = alerts.get(finding.kind)
                    if finding.hold or (last is not None and now - last < repeat):
                        report.held.append(finding)
                        continue
                    alerts[finding.kind] = now
                    row.last_alert, row.last_alert_at = finding.kind, now
                    report.told.append(finding)
                row.data = {
                    **(row.data or {}),
                    "alerts": {k: v.isoformat() for k, v in alerts.items()},
                }
                await row.save(using_db=conn)
        return report

    async def _tell(self, name: str, finding: Finding) -> None:
        """The audit record and outbox rows of one finding (inside ``_settle``'s transaction)."""
        self.app.stats.observer_alerts += 1
        await self.app.audit.record_now(
            "observers",
            f"observer.{finding.kind}",
            finding.subject,
            observer=name,
            notify=list(finding.notify),
        )
        key = f"observer:{name}:{finding.subject}"[:200]
        for user_key in finding.notify:
            await self.app.dm_later(user_key, finding.text, choices=finding.choices, key=key)
        if finding.email_subject and self.app.deliveries.handles(EMAIL):
            to = finding.notify if finding.email_to is None else finding.email_to
            for user_key in to:
                payload = {"to": user_key, "subject": finding.email_subject, "text": finding.text}
                await self.app.deliveries.add(EMAIL, payload, key=key)

    # -- snoozing ------------------------------------------------------------------------------
    async def snooze(self, observer: str, subject: str, until: datetime) -> None:
        """Tell nothing about ``subject`` until ``until`` (e.g. the "Snooze" button)."""
        from bot.storage.models import ObserverState

        row, _ = await ObserverState.get_or_create(observer=observer, subject=subject)
        row.snooze_until = until
        await row.save(update_fields=["snooze_until", "updated_at"])

    async def state(self, observer: str, subject: str) -> ObserverState | None:
        from bot.storage.models import ObserverState

        return await ObserverState.get_or_none(observer=observer, subject=subject)


def job_id(name: str) -> str:
    return f"observer:{name}"


def _snoozed(row: ObserverState, now: datetime) -> bool:
    return row.snooze_until is not None and now < row.snooze_until


def _alerts(row: ObserverState) -> dict[str, datetime]:
    raw = (row.data or {}).get("alerts") or {}
    out: dict[str, datetime] = {}
    for kind, when in raw.items():
        try:
            out[kind] = datetime.fromisoformat(when)
        except (TypeError, ValueError):
            continue
    return out
