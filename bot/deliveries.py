"""The durable outbox: notifications that follow a recorded change, sent after its commit.

A state change writes the DMs, card posts and updates and e-mails it causes as ``qm_outbox`` rows
in the same transaction as the change and its audit record (``await app.deliveries.add(...)``
inside ``async with app.deliveries.recording():``), so all of them are stored or none is. After the
commit -- after the user's answer when the change was made in a turn -- a delivery pass sends
them, marks them done, and retries a failure with back-off, up to ``max_attempts`` (then the row
is kept as ``failed`` for ``quartermaster outbox retry``). A loop repeats the pass every ``poll``
seconds for retries and for what a crashed or other process left: a restarted bot sends what is
pending. Delivery is at-least-once, so handlers are idempotent where the platform allows (a card
update renders the stored state, a card is posted once per request and channel).

Several processes share one database: a row is claimed with a conditional UPDATE and a lease
(``claimed_until``), so each row is sent by one process and a lease that ran out (its process
died) is taken over. Rows with the same ``key`` (one request) are sent in the order they were
written: only the oldest pending row of a key is ever claimed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.stats import Stats
from bot.storage.db import answering

if TYPE_CHECKING:
    from bot.background import BackgroundWork
    from bot.storage.models import Delivery

log = logging.getLogger(__name__)

#: sends one delivery's payload; raises to have it retried
Handler = Callable[[dict[str, Any]], Awaitable[None]]
#: the core's own kind: a DM by ``platform:id`` (``app.notify``), with optional ``choices``
DM = "dm"
#: an e-mail to a user (``to``, ``subject``, ``text``); sent by the workflow engine's notifier,
#: which registers it when e-mail is set up
EMAIL = "email"

#: inside ``recording``: the ids of the rows added in it so far (None outside)
_recording: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "qm_recording", default=None
)


class UnknownKind(Exception):
    """No handler is registered for a delivery's kind (yet: a skill may register it later)."""


class Deliveries:
    def __init__(
        self,
        background: BackgroundWork,
        stats: Stats | None = None,
        *,
        lease: float = 60.0,
        poll: float = 2.0,
        base_delay: float = 2.0,
        max_delay: float = 600.0,
        max_attempts: int = 8,
        batch: int = 200,
        settle: float = 5.0,
        keep_done: timedelta = timedelta(days=7),
    ) -> None:
        self.background = background
        self.stats = stats if stats is not None else Stats()
        self.lease = lease  # seconds a claim holds; a handler gets half of it
        self.poll = poll  # seconds between passes of the loop
        self.base_delay = base_delay  # seconds before the 2nd attempt; doubles after
        self.max_delay = max_delay
        self.max_attempts = max_attempts
        self.batch = batch
        self.keep_done = keep_done
        #: the loop leaves rows younger than this to the pass their turn queued, which runs
        #: after the turn's answer (a poll landing mid-turn would otherwise send a DM first)
        self.settle = settle
        self.origin = uuid.uuid4().hex
        self._handlers: dict[str, Handler] = {}
        self._accepts: dict[str, Callable[[], bool]] = {}
        self._pass_lock = asyncio.Lock()
        self._kicked = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._warned: set[str] = set()
        #: False in a process without chat platforms (a command-line run): what it records waits
        #: in the table for a process that can send it, instead of being "sent" to nobody
        self.sending = True

    # -- handlers ------------------------------------------------------------------------------
    def register(
        self, kind: str, handler: Handler, *, accepts: Callable[[], bool] | None = None
    ) -> None:
        """Say how rows of ``kind`` are sent (a later registration replaces an earlier one);
        ``accepts`` says whether new rows of it are wanted now (e-mail: only when it is on)."""
        self._handlers[kind] = handler
        if accepts is None:
            self._accepts.pop(kind, None)
        else:
            self._accepts[kind] = accepts

    def handles(self, kind: str) -> bool:
        """Whether rows of ``kind`` are worth recording here: a handler sends them, and wants
        them now."""
        accepts = self._accepts.get(kind)
        return kind in self._handlers and (accepts is None or accepts())

    # -- writing -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def recording(self) -> AsyncIterator[None]:
        """A transaction for a change and what follows it; the deliveries added inside are
        sent once it has committed (after the current turn's answer). A change that added none
        queues no pass: there is nothing new to send, and a pass is a query."""
        from tortoise.transactions import in_transaction

        outer = _recording.get()
        added: list[int] = []
        token = _recording.set(added)
        try:
            async with in_transaction():
                yield
        finally:
            _recording.reset(token)
        if added:
            if outer is not None:  # nested: the outer block's commit is the one that counts
                outer.extend(added)
            self.kick()

    async def add(self, kind: str, payload: dict[str, Any], *, key: str = "") -> int:
        """Store one delivery (returns its id). Inside ``recording`` it commits (or not) with
        the change; outside, it is stored at once and sent soon."""
        from bot.storage.models import Delivery

        row = await Delivery.create(kind=kind, key=key[:200], payload=payload, next_at=_now())
        self.stats.outbox_added += 1
        added = _recording.get()
        if added is None:
            self.kick()
        else:
            added.append(int(row.id))
        return int(row.id)

    def kick(self) -> None:
        """Run a delivery pass soon: after the current turn, if inside one."""
        if self._kicked or not self.sending:
            return
        self._kicked = True
        self.background.submit("outbox: deliver", self._kicked_pass, key="outbox", attempts=1)

    async def _kicked_pass(self) -> None:
        self._kicked = False
        await self.deliver_due()

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self, *, shared: bool) -> None:
        """Start the loop. Alone (``shared=False``: no other process uses the database) every
        claim left is a crashed run's, released at once instead of after its lease."""
        from bot.storage.models import Delivery

        if not self.sending:
            return
        if not shared:
            await Delivery.filter(state="pending", claimed_by__not_isnull=True).update(
                claimed_by=None, claimed_until=None
            )
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-loop")

    async def stop(self, timeout: float = 10.0) -> None:
        """Let a pass in progress finish (within ``timeout``); what is left stays pending."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            log.warning("the outbox was still sending at stop; the rest is sent at next start")
        self._task = None

    async def _run(self) -> None:
        """A pass now (what a crashed run left), then every ``poll`` seconds or when woken;
        a last one at stop, while the platforms are still connected."""
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        settle = 0.0  # the first pass takes everything: it was all left by an earlier run
        while True:
            try:
                await self.deliver_due(settle=settle)
                settle = 0.0 if self._stopping else self.settle
                if loop.time() - last_prune > 3600:
                    last_prune = loop.time()
                    await self.prune()
            except Exception as exc:  # the database is away: the next pass tries again
                log.warning("outbox pass failed: %s", type(exc).__name__)
                log.debug("outbox pass failure", exc_info=True)
            if self._stopping:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll):
                    await self._wake.wait()
            self._wake.clear()

    # -- sending -------------------------------------------------------------------------------
    async def deliver_due(self, *, settle: float = 0.0) -> int:
        """Send every row that is due now and at least ``settle`` seconds old (one pass at a
        time per process); returns how many were sent. One key's rows go in order."""
        sent = 0
        if not self.sending:
            return sent
        async with self._pass_lock:
            while True:
                async with answering("the outbox"):
                    claimed = await self._claim(settle)
                if not claimed:
                    return sent
                for row in claimed:
                    sent += await self._deliver(row)

    async def deliver_now(self, row_id: int) -> bool:
        """Send one committed row right away (a card the user's answer refers to); False when it
        is not sent now (failed, or another pass has it): the outbox goes on trying."""
        from tortoise.expressions import Q

        from bot.storage.models import Delivery

        if not self.sending:
            return False
        now = _now()
        async with self._pass_lock:
            async with answering("the outbox"):
                row = await Delivery.get_or_none(id=row_id, state="pending")
                if row is None:
                    return False
                taken = (
                    await Delivery.filter(id=row_id, state="pending")
                    .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                    .update(
                        claimed_by=self.origin, claimed_until=now + timedelta(seconds=self.lease)
                    )
                )
            return bool(taken) and await self._deliver(row) == 1

    async def _claim(self, settle: float) -> list[Delivery]:
        from tortoise.expressions import Q

        from bot.storage.models import Delivery

        now = _now()
        rows = await Delivery.filter(state="pending").order_by("id").limit(self.batch)
        young = now - timedelta(seconds=settle)
        heads: dict[str, Delivery] = {}
        for row in rows:
            group = row.key or f"#{row.id}"
            heads.setdefault(group, row)
        mine = []
        until = now + timedelta(seconds=self.lease)
        for row in heads.values():
            if row.next_at > now or (row.claimed_until is not None and row.claimed_until > now):
                continue  # not due, or another pass holds it (and with it its key)
            if settle and row.attempts == 0 and row.created_at > young:
                continue  # its own turn's pass sends it, after the answer
            taken = (
                await Delivery.filter(id=row.id, state="pending")
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                .update(claimed_by=self.origin, claimed_until=until)
            )
            if taken:
                mine.append(row)
        return mine

    async def _deliver(self, row: Delivery) -> int:
        handler = self._handlers.get(row.kind)
        try:
            if handler is None:
                raise UnknownKind(row.kind)
            async with asyncio.timeout(self.lease / 2):
                await handler(dict(row.payload))
        except UnknownKind:
            if row.kind not in self._warned:
                self._warned.add(row.kind)
                log.warning("no handler for outbox rows of kind %r (yet); they wait", row.kind)
            await self._release(
                row.id,
                next_at=_now() + timedelta(seconds=max(self.poll, 30.0)),
            )
            return 0
        except Exception as exc:
            await self._failed(row, exc)
            return 0
        await self._release(
            row.id,
            state="done",
            done_at=_now(),
            attempts=row.attempts + 1,
        )
        self.stats.outbox_done += 1
        return 1

    async def _failed(self, row: Delivery, exc: Exception) -> None:
        attempts = row.attempts + 1
        error = type(exc).__name__  # never the message: it may quote secrets
        if attempts >= self.max_attempts:
            log.error(
                "outbox row %d (%s) failed %d times: %s; kept as failed "
                "(`quartermaster outbox retry %d`)",
                row.id,
                row.kind,
                attempts,
                error,
                row.id,
            )
            self.stats.outbox_failed += 1
            state, next_at = "failed", _now()
        else:
            delay = min(self.max_delay, self.base_delay * 2 ** (attempts - 1))
            log.warning(
                "outbox row %d (%s) failed (attempt %d of %d): %s; retrying in %.1f s",
                row.id,
                row.kind,
                attempts,
                self.max_attempts,
                error,
                delay,
            )
            log.debug("outbox row %d failure", row.id, exc_info=exc)
            self.stats.outbox_retried += 1
            state, next_at = "pending", _now() + timedelta(seconds=delay)
        await self._release(
            row.id,
            state=state,
            attempts=attempts,
            next_at=next_at,
            last_error=error[:200],
        )

    async def _release(self, row_id: int, **values: Any) -> None:
        """Record how a claimed row went (done, to retry, failed) and let go of it."""
        from bot.storage.models import Delivery

        async with answering("the outbox"):
            await Delivery.filter(id=row_id, claimed_by=self.origin).update(
                claimed_by=None, claimed_until=None, **values
            )

    async def prune(self) -> int:
        """Forget rows sent longer than ``keep_done`` ago."""
        from bot.storage.models import Delivery

        return await Delivery.filter(state="done", done_at__lt=_now() - self.keep_done).delete()


def _now() -> datetime:
    return datetime.now(UTC)
