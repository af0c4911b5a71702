"""A housekeeping job run once at start and then every few minutes, cancelled cleanly at stop.

Used for the plumbing tables that only ever grow unless someone deletes old rows (seen delivery
ids, expired key-value rows). A failing run is logged and the next one tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class Periodic:
    def __init__(
        self,
        job: Callable[[], Awaitable[object]],
        every: float,
        *,
        name: str,
        wait: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.job = job
        self.every = every
        self.name = name
        self.runs = 0
        #: how the pause between runs is waited out (tests pass one they control)
        self.wait = wait
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the job once (so its effect is there when start returns), then keep it running."""
        await self._run_once()
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            await self.wait(self.every)
            await self._run_once()

    async def _run_once(self) -> None:
        try:
            await self.job()
        except Exception as exc:  # the database away for a moment: try again next time
            log.warning("%s failed: %s", self.name, type(exc).__name__)
        self.runs += 1
