"""Runs the schedules skills declare, on APScheduler; re-synced after every skills reload.

Other periodic work (observers) adds its own jobs with ``add_periodic``; ``sync`` replaces only
the skills' schedules and leaves those alone. Time slots for the Redis claim come from
``app.clock``, so a test moving the clock moves the slots too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.app import Application
    from bot.registry import Registry
    from bot.skill import HandlerSpec

log = logging.getLogger(__name__)
#: every job: a late firing runs once, never two at a time, replaced when declared again
JOB_OPTIONS: dict[str, Any] = {
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": 30,
    "replace_existing": True,
}
CLAIM_SECONDS = 2.0  # a firing waits this long for Redis's claim, then runs here

#: how long ``stop`` waits for cancelled jobs to end (one that swallows cancellation is left)
STOP_TIMEOUT = 5.0


class Scheduler:
    def __init__(self, app: Application) -> None:
        self.app = app
        self._scheduler = AsyncIOScheduler(timezone="UTC")
        self._specs: dict[str, HandlerSpec] = {}
        self.runs: dict[str, int] = {}
        self.skipped: dict[str, int] = {}  # firings another bot process claimed first
        self._running: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self.unclaimed: dict[str, int] = {}  # firings run without a claim (Redis away)

    def start(self) -> None:
        self._scheduler.start()

    async def stop(self) -> None:
        """Stop firing, then cancel the jobs still running and wait for them.

        Left to APScheduler, a running job is cancelled by its shutdown and logged as an error
        with a traceback; cancelled here, each stops quietly with one info line.
        """
        if self._stopping or not self._scheduler.running:  # stop is registered twice (app)
            return
        self._stopping = True
        self._scheduler.pause()
        running = set(self._running)
        for task in running:
            task.cancel()
        if running:
            _, stuck = await asyncio.wait(running, timeout=STOP_TIMEOUT)
            if stuck:
                log.warning("%d scheduled job(s) ignored cancellation at stop", len(stuck))
        self._scheduler.shutdown(wait=False)

    async def _quietly(self, job_id: str, job: Callable[[], Awaitable[object]]) -> None:
        """Run ``job``; cancelled by ``stop``, it ends with an info line instead of an error."""
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await job()
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task.uncancel()
            log.info("scheduled job %s stopped: the bot is shutting down", job_id)
        finally:
            self._running.discard(task)

    async def _claim(self, job_id: str, spec: HandlerSpec) -> bool:
        assert spec.schedule is not None
        return await self.claim(job_id, spec.schedule.seconds or 60.0)

    async def claim(self, job_id: str, period: float) -> bool:
        """With Redis, exactly one bot process runs each firing of a job.

        A firing is identified by its time slot (the interval, or the minute for cron jobs); the
        first process to ``SET NX`` the slot's key runs it, the others skip it. When Redis does
        not answer, the firing runs here: with several processes it may run more than once,
        which is better than every process skipping it (docs/decisions/0016).
        """
        redis = self.app.redis
        if redis is None:
            return True
        period = max(1.0, period)
        slot = int(self.app.clock.now().timestamp() // period)
        key = f"{self.app.settings.redis.prefix}job:{job_id}:{slot}"
        try:
            async with asyncio.timeout(CLAIM_SECONDS):
                return bool(await redis.set(key, "1", nx=True, ex=int(period * 2) + 1))
        except Exception as exc:  # Redis down or slow
            self.unclaimed[job_id] = self.unclaimed.get(job_id, 0) + 1
            log.warning(
                "could not claim job %s in Redis (%s); running it here", job_id, type(exc).__name__
            )
            return True

    def add_periodic(
        self, job_id: str, func: Callable[[], Awaitable[object]], every: timedelta
    ) -> None:
        """A job that is not a skill schedule (e.g. ``observer:idle``); ``sync`` keeps it."""
        if job_id in self._specs:
            raise ValueError(f"job {job_id} is a skill schedule")

        async def quietly() -> None:
            await self._quietly(job_id, func)

        self._scheduler.add_job(
            quietly,
            IntervalTrigger(seconds=max(1.0, every.total_seconds()), timezone="UTC"),
            id=job_id,
            name=job_id,
            **JOB_OPTIONS,
        )

    def remove_periodic(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def has_job(self, job_id: str) -> bool:
        return self._scheduler.get_job(job_id) is not None

    def sync(self, registry: Registry) -> None:
        """Replace every skill job with the ones the current registry declares."""
        for job_id in list(self._specs):
            self._scheduler.remove_job(job_id)
        self._specs.clear()
        for spec in registry.schedules:
            assert spec.schedule is not None
            sched = spec.schedule
            if sched.cron is not None:
                trigger = CronTrigger.from_crontab(sched.cron, timezone=sched.timezone)
            else:
                trigger = IntervalTrigger(seconds=sched.seconds or 60, timezone=sched.timezone)
            job_id = f"{spec.skill}.{spec.key}"
            self._specs[job_id] = spec
            self._scheduler.add_job(
                self.run,
                trigger,
                args=[job_id],
                id=job_id,
                name=job_id,
                **JOB_OPTIONS,
            )

    @property
    def job_ids(self) -> list[str]:
        return sorted(self._specs)

    def next_run(self, job_id: str) -> object:
        job = self._scheduler.get_job(job_id)
        return job.next_run_time if job else None

    async def run(self, job_id: str) -> None:
        """Run one job now (APScheduler calls this; tests and admins may too)."""
        spec = self._specs.get(job_id)
        if spec is None:
            raise KeyError(job_id)
        await self._quietly(job_id, lambda: self._run(job_id, spec))

    async def _run(self, job_id: str, spec: HandlerSpec) -> None:
        if not await self._claim(job_id, spec):
            self.skipped[job_id] = self.skipped.get(job_id, 0) + 1
            return
        self.runs[job_id] = self.runs.get(job_id, 0) + 1
        try:
            await spec.func(self.app)
        except Exception:
            log.exception("scheduled job %s failed", job_id)
            self.app.audit.record("scheduler", "job", job_id, "error")
