"""Per-user, per-conversation dialogue state: in memory for speed, written through to the database.

Only conversations with something pending are stored, so the common message (a command that
changes nothing) never touches the database.

With Redis (``start_sync``) several bot processes share the state: every ``save``/``clear``
is published on a pub/sub channel after its database write, and each process applies the others'
changes to its own dict, so a dialogue begun through one process can be answered by another.
Reads stay local (``peek`` never waits on Redis). The database remains the source of truth: a
process reloads it whenever its subscription is (re)established, so changes published while it
was disconnected are not lost. Concurrent writers to one key: the last write wins, by the
writer's clock (each change carries a stamp, so every process ends with the same state whatever
order the messages arrive in).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.backoff import Backoff
from bot.storage.db import answering

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConversationKey:
    """Whose dialogue, where: per user and per conversation (a DM, a channel, or a thread).

    Code passes this typed key around; it becomes a string only here, at the storage and Redis
    boundary, in the format stored rows have always had (``platform:channel:thread:user``)."""

    platform: str
    channel: str
    thread: str | None
    user: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel}:{self.thread or ''}:{self.user}"


#: a typed conversation key, or a plain name for other entries kept in the store
Key = ConversationKey | str


def _parse(stored: str) -> ConversationKey | None:
    """The typed key of a stored conversation row (None for the store's other entries)."""
    head, sep, user = stored.rpartition(":")
    head, sep2, thread = head.rpartition(":")
    platform, sep3, channel = head.partition(":")
    if not (sep and sep2 and sep3 and platform and channel and user):
        return None
    return ConversationKey(platform, channel, thread or None, user)


Entry = tuple[dict[str, Any], datetime | None]
Stamp = tuple[float, str]  # (writer's wall clock, writer's origin): the later write wins
TOMBSTONE_SECONDS = 60.0  # how long a clear outranks late messages about the same key


class ConversationStore:
    def __init__(self, timeout: timedelta) -> None:
        self.timeout = timeout
        self._states: dict[str, Entry] = {}
        self._stamps: dict[str, Stamp] = {}  # of the live entries
        self._cleared: dict[str, Stamp] = {}  # recent clears (tombstones)
        #: identifies this store's own messages on the channel (echoes are ignored)
        self.origin = uuid.uuid4().hex
        self.channel: str | None = None
        #: changes applied from other processes / payloads ignored as malformed / reloads
        self.applied = 0
        self.ignored = 0
        self.resyncs = 0
        self.heartbeat = 30.0  # seconds of silence before the subscription is pinged
        self.publish_timeout = 5.0
        self._redis: Any = None
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Event | None = None
        self._touched: set[str] | None = None  # keys changed while a reload reads the DB

    # -- loading -------------------------------------------------------------------------------
    async def load(self) -> None:
        """(Re)read every live conversation from the database.

        The dict is swapped in one step, so ``peek`` never sees a half-loaded store; keys that
        changed in memory while the rows were being read keep their newer in-memory value.
        """
        from bot.storage.models import Conversation

        touched: set[str] = set()
        self._touched = touched
        try:
            rows = await Conversation.all()
        finally:
            self._touched = None
        now = datetime.now(UTC)
        # an expired draft already held stays (the bot still owes its "timed out" notice)
        live = [
            row
            for row in rows
            if row.expires_at is None or row.expires_at > now or row.key in self._states
        ]
        fresh: dict[str, Entry] = {row.key: (dict(row.state), row.expires_at) for row in live}
        stamps: dict[str, Stamp] = {row.key: (row.updated_at.timestamp(), "") for row in live}
        for key in touched:
            entry = self._states.get(key)
            if entry is None:
                fresh.pop(key, None)
                stamps.pop(key, None)
            else:
                fresh[key] = entry
                stamps[key] = self._stamps[key]
        self._states, self._stamps = fresh, stamps

    def _set(self, key: str, entry: Entry | None, stamp: Stamp) -> bool:
        """Apply a change unless a later one for ``key`` is already known (last write wins)."""
        current = self._stamps.get(key) or self._cleared.get(key)
        if current is not None and current > stamp:
            return False
        if self._touched is not None:
            self._touched.add(key)
        if entry is None:
            self._states.pop(key, None)
            self._stamps.pop(key, None)
            self._cleared[key] = stamp
            if len(self._cleared) > 1000:
                cutoff = time.time() - TOMBSTONE_SECONDS
                self._cleared = {k: v for k, v in self._cleared.items() if v[0] > cutoff}
        else:
            self._states[key] = entry
            self._stamps[key] = stamp
            self._cleared.pop(key, None)
        return True

    # -- reading (hot path: plain dict look-ups) -----------------------------------------------
    def _lookup(self, key: str, now: datetime | None = None) -> tuple[dict[str, Any], bool] | None:
        """(state, has it expired by ``now``) for a stored conversation, or None."""
        entry = self._states.get(key)
        if entry is None:
            return None
        state, expires = entry
        return state, expires is not None and expires <= (now or datetime.now(UTC))

    def peek(self, key: Key) -> dict[str, Any] | None:
        """The live state of a conversation, or None (also when it has expired)."""
        found = self._lookup(str(key))
        return found[0] if found is not None and not found[1] else None

    def expired(self, key: Key, now: datetime | None = None) -> dict[str, Any] | None:
        """The state of a conversation that timed out (so the bot can say so), else None."""
        found = self._lookup(str(key), now)
        return found[0] if found is not None and found[1] else None

    def expired_keys(self, now: datetime | None = None) -> list[ConversationKey]:
        """The conversations whose time ran out by ``now`` (the caller's clock; default: real)
        and still wait for their "timed out" notice."""
        now = now or datetime.now(UTC)
        found = (
            _parse(k) for k, (_, exp) in self._states.items() if exp is not None and exp <= now
        )
        return [key for key in found if key is not None]

    # -- writing: database first, then memory, then the other processes -------------------------
    async def save(self, key: Key, state: dict[str, Any], *, expires: bool = True) -> None:
        from bot.storage.models import Conversation

        key = str(key)
        expires_at = datetime.now(UTC) + self.timeout if expires else None
        stamp = (time.time(), self.origin)
        async with answering("the conversation store"):  # a stall fails the turn, clearly
            await Conversation.update_or_create(
                key=key, defaults={"state": state, "expires_at": expires_at}
            )
        self._set(key, (state, expires_at), stamp)
        await self._publish(key, state, expires_at, stamp)

    async def clear(self, key: Key) -> None:
        from bot.storage.models import Conversation

        key = str(key)
        if key not in self._states:
            return
        stamp = (time.time(), self.origin)
        async with answering("the conversation store"):
            await Conversation.filter(key=key).delete()
        self._set(key, None, stamp)
        await self._publish(key, None, None, stamp)

    # -- sharing through Redis -----------------------------------------------------------------
    async def start_sync(
        self, redis: Any, *, prefix: str = "qm:", ready_timeout: float = 10.0
    ) -> None:
        """Follow other processes' changes on ``{prefix}conversations`` and publish ours.

        Returns once subscribed and caught up with the database (or after ``ready_timeout``,
        with a warning: the follower keeps retrying in the background).
        """
        if self._task is not None:
            return
        self._redis = redis
        self.channel = f"{prefix}conversations"
        self._ready = asyncio.Event()
        self._task = asyncio.create_task(self._follow(redis), name="conversations-sync")
        try:
            async with asyncio.timeout(ready_timeout):
                await self._ready.wait()
        except TimeoutError:
            log.warning("conversation sharing is not subscribed yet; retrying in the background")

    async def stop_sync(self) -> None:
        task, self._task = self._task, None
        self._redis = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _publish(
        self, key: str, state: dict[str, Any] | None, expires_at: datetime | None, stamp: Stamp
    ) -> None:
        """Tell the other processes; a failure only delays them until their next reload."""
        redis, channel = self._redis, self.channel
        if redis is None or channel is None:
            return
        try:
            payload = json.dumps(
                {
                    "origin": self.origin,
                    "at": stamp[0],
                    "key": key,
                    "state": state,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
                separators=(",", ":"),
                default=str,
            )
            async with asyncio.timeout(self.publish_timeout):
                await redis.publish(channel, payload)
        except Exception as exc:  # Redis down or slow: the DB write already happened
            log.warning(
                "could not share a conversation change on %s: %s", channel, type(exc).__name__
            )

    async def _follow(self, redis: Any) -> None:
        """Subscribe, listen, resubscribe after a loss — until cancelled. ``redis`` is passed in
        rather than read from ``self``: a cancellation swallowed inside redis-py's own clean-up
        must not meet a store that ``stop_sync`` has already detached."""
        backoff = Backoff(base=0.2, cap=30.0)
        while self._task is asyncio.current_task():  # stop_sync detached us: stop
            pubsub = redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                await self._listen(pubsub, backoff)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost, DB down during the reload, ...
                delay = backoff.next_delay()
                log.warning(
                    "conversation sharing lost its subscription (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _listen(self, pubsub: Any, backoff: Backoff) -> None:
        waiting_for_pong = False
        while True:
            message = await pubsub.get_message(timeout=self.heartbeat)
            if message is None:  # silence: make sure the connection is still there
                if waiting_for_pong:
                    raise ConnectionError("Redis did not answer a ping")
                await pubsub.ping()
                waiting_for_pong = True
                continue
            waiting_for_pong = False
            kind = message.get("type")
            if kind == "subscribe":  # first time, or redis-py re-subscribed after a drop
                await self.load()  # catch up with anything published meanwhile
                self.resyncs += 1
                backoff.reset()
                if self._ready is not None:
                    self._ready.set()
            elif kind == "message":
                self._receive(message.get("data"))

    def _receive(self, data: Any) -> None:
        """Apply another process's change; anything malformed is logged (not its content)."""
        try:
            change = json.loads(data)
            origin, key, state = change["origin"], change["key"], change["state"]
            stamp = (float(change["at"]), str(origin))
            if not math.isfinite(stamp[0]):
                raise ValueError("the stamp is not a finite number")
            if not isinstance(key, str) or not (state is None or isinstance(state, dict)):
                raise TypeError("key must be a string and state an object or null")
            expires_at = None
            if change.get("expires_at") is not None:
                expires_at = datetime.fromisoformat(change["expires_at"])
                if expires_at.tzinfo is None:
                    expires_at = expires_at.replace(tzinfo=UTC)
        except (ValueError, KeyError, TypeError) as exc:
            self.ignored += 1
            size = len(data) if isinstance(data, (bytes, str)) else 0
            log.warning(
                "ignored a malformed conversation update on %s (%d bytes): %s",
                self.channel,
                size,
                type(exc).__name__,
            )
            return
        if origin == self.origin:
            return
        if self._set(key, None if state is None else (state, expires_at), stamp):
            self.applied += 1
