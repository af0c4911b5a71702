"""Dropping duplicate platform deliveries (retries, reconnect replays, double events).

A small in-process cache answers most checks; the shared store decides: Redis ``SET NX EX`` when
several bot processes run, else the database's unique key. The first claimant handles the event.
The Application owns one (``app.dedupe``) for every platform; it also deletes database keys
older than the TTL every few minutes (Redis expires its own).

The platform has already been acked when a delivery gets here, so a store that fails must never
cost the message: when Redis does not answer, claims fall back to the cache and the database
(one warning per outage; Redis is asked again at most every ``retry_seconds``, so a stalled
Redis does not slow every message, and takes over as soon as it answers); when the database
does not answer either, the delivery counts as new. At worst a retry is answered twice; it is
never dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from bot.periodic import Periodic

log = logging.getLogger(__name__)
PRUNE_SECONDS = 900.0
STORE_TIMEOUT = 2.0  # a claim waits this long for Redis or the database, then goes on locally
RETRY_SECONDS = 5.0  # while Redis is down, it is asked again after this long


class Deduplicator:
    """``first_time(*ids)`` claims a delivery's ids; False when any was claimed before."""

    def __init__(
        self,
        *,
        redis: Any = None,
        prefix: str = "qm:",
        ttl_seconds: int = 3600,
        memory_size: int = 10_000,
        use_database: bool = True,
        timeout: float = STORE_TIMEOUT,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.use_database = use_database
        self.timeout = timeout
        #: True while Redis fails and claims are decided locally (cache + database)
        self.redis_down = False
        self.database_down = False
        self.local_claims = 0  # claims decided without Redis while it was down
        self.redis_calls = 0
        self.retry_seconds = retry_seconds
        self.clock = clock
        self._retry_at = 0.0
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._size = memory_size
        self._pruner = Periodic(self.prune, PRUNE_SECONDS, name="dedupe-prune")

    def _remember(self, key: str) -> None:
        self._recent[key] = None
        if len(self._recent) > self._size:
            self._recent.popitem(last=False)

    async def first_time(self, *keys: str) -> bool:
        """True if none of ``keys`` was seen before (and claims them all); False for a duplicate.

        Pass every identity the event has (e.g. Slack's event id *and* channel+ts).
        """
        keys = tuple(k for k in keys if k)
        if any(k in self._recent for k in keys):
            return False
        fresh = True
        for key in keys:
            if not await self._claim(key):
                fresh = False
        for key in keys:
            self._remember(key)
        return fresh

    async def _claim(self, key: str) -> bool:
        if self.redis is not None:
            claimed = await self._claim_in_redis(key)
            if claimed is not None:
                return claimed
            self.local_claims += 1
        if self.use_database:
            return await self._claim_in_database(key)
        return True

    async def _claim_in_redis(self, key: str) -> bool | None:
        """Redis's answer, or None when it has none (down, refused, too slow) or is not asked
        (down, and not yet time to try again)."""
        if self.redis_down and self.clock() < self._retry_at:
            return None
        self.redis_calls += 1
        try:
            async with asyncio.timeout(self.timeout):
                claimed = await self.redis.set(
                    f"{self.prefix}seen:{key}", "1", nx=True, ex=self.ttl
                )
        except Exception as exc:  # redis' ConnectionError/TimeoutError, OSError, our timeout
            self._retry_at = self.clock() + self.retry_seconds
            if not self.redis_down:
                self.redis_down = True
                log.warning(
                    "Redis is not answering (%s): duplicate deliveries are now detected by "
                    "this process and the database only, until Redis is back",
                    type(exc).__name__,
                )
            return None
        if self.redis_down:
            self.redis_down = False
            log.warning("Redis answers again: duplicate deliveries are detected through it")
        return bool(claimed)

    async def _claim_in_database(self, key: str) -> bool:
        from tortoise.exceptions import IntegrityError

        from bot.storage.models import SeenEvent

        try:
            async with asyncio.timeout(self.timeout):
                await SeenEvent.create(key=key[:300])
        except IntegrityError:
            return False
        except Exception as exc:  # the database is down too: handle rather than lose it
            if not self.database_down:
                self.database_down = True
                log.warning(
                    "the database did not record a delivery id (%s): deliveries are taken as "
                    "new (a retry may be answered twice) until it answers",
                    type(exc).__name__,
                )
            return True
        if self.database_down:
            self.database_down = False
            log.warning("the database records delivery ids again")
        return True

    async def prune(self) -> int:
        """Forget database keys older than the TTL (with Redis, those written while it was
        down; Redis expires its own)."""
        if not self.use_database:
            return 0
        from datetime import UTC, datetime, timedelta

        from bot.storage.models import SeenEvent

        cutoff = datetime.now(UTC) - timedelta(seconds=self.ttl)
        return await SeenEvent.filter(seen_at__lt=cutoff).delete()

    async def start(self) -> None:
        """Prune now and every ``PRUNE_SECONDS`` until ``stop``."""
        await self._pruner.start()

    async def stop(self) -> None:
        await self._pruner.stop()
