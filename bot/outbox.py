"""Outbound pacing: one queue per channel, platform rate limits honoured (429 + Retry-After).

Adapters wrap each platform call in ``await outbox.call(channel, make_request)``; ``make_request``
raises ``RateLimited(retry_after)`` on a 429 and the call is retried after that delay, while
other channels keep flowing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited; retry after {retry_after:.1f} s")
        self.retry_after = max(0.0, retry_after)


class Outbox:
    def __init__(self, *, min_interval: float = 0.0, max_retries: int = 5) -> None:
        self.min_interval = min_interval  # seconds between posts to one channel
        self.max_retries = max_retries
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}
        self._global_until = 0.0  # a workspace-wide 429 pauses everything
        self.waited = 0.0

    async def call(self, channel: str, request: Callable[[], Awaitable[T]]) -> T:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            for attempt in range(self.max_retries + 1):
                await self._pace(channel)
                try:
                    result = await request()
                except RateLimited as exc:
                    if attempt == self.max_retries:
                        raise
                    log.info("rate limited on %s; waiting %.1f s", channel, exc.retry_after)
                    self._global_until = max(self._global_until, time.monotonic() + exc.retry_after)
                    continue
                self._last[channel] = time.monotonic()
                return result
        raise AssertionError("unreachable")

    async def _pace(self, channel: str) -> None:
        now = time.monotonic()
        wait = max(
            self._global_until - now, self._last.get(channel, 0.0) + self.min_interval - now, 0.0
        )
        if wait > 0:
            self.waited += wait
            await asyncio.sleep(wait)
