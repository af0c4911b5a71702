"""The audit trail: every handled command, denial, role change and reload.

Records of state changes are written in the change's own transaction (``record_now`` inside
``in_transaction``/``app.deliveries.recording()``), so a crash can never keep the change and
lose its record. The rest (commands handled, denials, chatter) is batched, which keeps the
database off the message path; ``flush`` is awaited at stop and by tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from bot.errors import DatabaseNotAnswering

log = logging.getLogger(__name__)


class AuditLog:
    def __init__(self, flush_interval: float = 0.5, max_batch: int = 500) -> None:
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._buffer: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self.enabled = False
        self.database_down = False  # the last flush met a database that did not answer

    def record(
        self, actor: str, kind: str, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None:
        if not self.enabled:
            return
        self._buffer.append(
            {
                "at": datetime.now(UTC),
                "actor": actor,
                "kind": kind,
                "target": target[:200],
                "outcome": outcome,
                "detail": detail,
            }
        )
        if len(self._buffer) >= self.max_batch:
            self._wake.set()

    async def record_now(
        self, actor: str, kind: str, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None:
        """Write one record at once, on the current connection: inside a transaction it
        commits (or rolls back) with the change it records."""
        if not self.enabled:
            return
        from bot.storage.models import AuditEvent

        await AuditEvent.create(
            at=datetime.now(UTC),
            actor=actor,
            kind=kind,
            target=target[:200],
            outcome=outcome,
            detail=detail,
        )

    async def write(
        self, actor: str, kind: str, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None:
        """Record and flush now: for events that must be on disk before the bot says so."""
        self.record(actor, kind, target, outcome, **detail)
        await self.flush()

    async def flush(self) -> None:
        if not self._buffer:
            return
        from bot.storage.db import answering
        from bot.storage.models import AuditEvent

        batch, self._buffer = self._buffer, []
        try:
            async with answering("the audit log"):  # a stalled database delays, never hangs
                await AuditEvent.bulk_create([AuditEvent(**row) for row in batch])
        except Exception:
            self._buffer[:0] = batch  # keep it; the next flush tries again
            raise

    async def start(self) -> None:
        self.enabled = True
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="audit-flush")

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            self._wake.clear()
            pending = bool(self._buffer)
            try:
                await self.flush()
            except DatabaseNotAnswering as exc:  # an outage: one warning, not one per try
                if not self.database_down:
                    self.database_down = True
                    log.warning("audit records are kept in memory until it answers: %s", exc)
                continue
            except Exception:
                log.warning(
                    "audit flush failed; %d records kept for the next try",
                    len(self._buffer),
                    exc_info=True,
                )
                continue
            if pending and self.database_down:
                self.database_down = False
                log.warning("the database answers again: audit records are written")

    async def stop(self) -> None:
        """Let a flush in progress finish (cancelling it would break its transaction)."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        try:
            await self.flush()
        except DatabaseNotAnswering as exc:  # stopping during an outage: say what is lost
            log.error("%d audit records were not written at stop: %s", len(self._buffer), exc)
        finally:
            self.enabled = False
