"""Concurrency: conversations run side by side, messages of one conversation stay in order.

One worker task per *active conversation* drains that conversation's queue and exits when it is
empty, so there is no task per message and no head-of-line blocking between conversations. The
total number of queued events is bounded; producers wait when it is full (back-pressure).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

log = logging.getLogger(__name__)

Handle = Callable[[Any], Awaitable[None]]


class Dispatcher:
    def __init__(self, handle: Handle, max_pending: int = 10_000) -> None:
        self._handle = handle
        self._max = max_pending
        self._queues: dict[Hashable, deque[tuple[Any, asyncio.Future[None] | None]]] = {}
        self._workers: set[asyncio.Task[None]] = set()
        self._pending = 0
        self._space = asyncio.Event()
        self._space.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True

    @property
    def pending(self) -> int:
        return self._pending

    async def submit(
        self, key: Hashable, event: Any, done: asyncio.Future[None] | None = None
    ) -> None:
        """Queue ``event`` behind earlier events with the same ``key``."""
        while self._pending >= self._max:
            self._space.clear()
            await self._space.wait()
        self._pending += 1
        self._idle.clear()
        queue = self._queues.get(key)
        if queue is not None:
            queue.append((event, done))
            return
        queue = deque(((event, done),))
        self._queues[key] = queue
        task = asyncio.get_running_loop().create_task(self._drain(key, queue))
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def run(self, key: Hashable, event: Any) -> None:
        """Queue ``event`` and wait until it has been handled (for scripts and tests)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self.submit(key, event, done)
        await done

    async def _drain(
        self, key: Hashable, queue: deque[tuple[Any, asyncio.Future[None] | None]]
    ) -> None:
        try:
            while queue:
                event, done = queue.popleft()
                try:
                    await self._handle(event)
                except Exception as exc:
                    log.exception("unhandled error while dispatching")
                    if done is not None and not done.done():
                        done.set_exception(exc)
                        done = None
                finally:
                    self._pending -= 1
                    if not self._space.is_set() and self._pending < self._max:
                        self._space.set()
                    if done is not None and not done.done():
                        done.set_result(None)
        finally:
            del self._queues[key]
            if not self._queues:
                self._idle.set()

    async def join(self) -> None:
        """Wait until everything queued so far has been handled."""
        await self._idle.wait()

    async def close(self, timeout: float = 10.0) -> None:
        self.accepting = False
        try:
            async with asyncio.timeout(timeout):
                await self.join()
        except TimeoutError:
            log.warning(
                "dispatcher: %d events still running at shutdown; cancelling", self._pending
            )
            for task in list(self._workers):
                task.cancel()
