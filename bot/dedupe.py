"""Dropping duplicate platform deliveries (retries, reconnect replays, double events).

A small in-process cache answers most checks; the shared store decides: Redis ``SET NX EX`` when
several bot processes run, else the database's unique key. The first claimant handles the event.
The Application owns one (``app.dedupe``) for every platform; in database mode it also deletes
keys older than the TTL every few minutes (Redis expires its own).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from bot.periodic import Periodic

log = logging.getLogger(__name__)
PRUNE_SECONDS = 900.0


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
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.use_database = use_database
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
            return bool(await self.redis.set(f"{self.prefix}seen:{key}", "1", nx=True, ex=self.ttl))
        if self.use_database:
            from tortoise.exceptions import IntegrityError

            from bot.storage.models import SeenEvent

            try:
                await SeenEvent.create(key=key[:300])
            except IntegrityError:
                return False
        return True

    async def prune(self) -> int:
        """Forget database keys older than the TTL (Redis expires its own)."""
        if self.redis is not None or not self.use_database:
            return 0
        from datetime import UTC, datetime, timedelta

        from bot.storage.models import SeenEvent

        cutoff = datetime.now(UTC) - timedelta(seconds=self.ttl)
        return await SeenEvent.filter(seen_at__lt=cutoff).delete()

    async def start(self) -> None:
        """Prune now and every ``PRUNE_SECONDS`` until ``stop`` (nothing to do with Redis)."""
        await self._pruner.start()

    async def stop(self) -> None:
        await self._pruner.stop()
