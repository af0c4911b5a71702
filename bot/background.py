"""Work done after the user's turn is answered: copy updates, DMs, e-mail, workflow hooks.

A handler that moves a request answers at once; what follows (updating every posted copy,
telling people, sending mail) is submitted here and runs when the turn ends, with bounded
concurrency. A failing job is logged by name (never its arguments: they may hold secrets) and
retried with exponential back-off; jobs sharing a ``key`` (e.g. one request) run in the order
they were submitted, so an older copy update never lands after a newer one. At stop the
pending work is drained within a time limit; whatever could not run is logged by name and
counted, never silently dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bot.stats import Stats

log = logging.getLogger(__name__)

JobFactory = Callable[[], Awaitable[object]]


@dataclass(slots=True)
class _Job:
    name: str
    factory: JobFactory
    key: str | None
    attempts: int


@dataclass(slots=True)
class _Turn:
    """Jobs submitted while a user's turn is being handled; released when it ends."""

    held: list[_Job] = field(default_factory=list)


_turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar("qm_turn", default=None)


class BackgroundWork:
    def __init__(
        self,
        stats: Stats | None = None,
        *,
        concurrency: int = 4,
        attempts: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        drain_seconds: float = 10.0,
    ) -> None:
        self.stats = stats if stats is not None else Stats()
        self.attempts = attempts
        self.base_delay = base_delay  # seconds before the 2nd attempt; doubles after
        self.max_delay = max_delay
        self.drain_seconds = drain_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, jobs using it)
        self._tasks: dict[asyncio.Task[None], _Job] = {}
        self.running = False

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self.running = True

    async def stop(self) -> None:
        """Drain pending work for up to ``drain_seconds``; log by name what did not finish."""
        try:
            async with asyncio.timeout(self.drain_seconds):
                await self.idle()
        except TimeoutError:
            left = list(self._tasks.items())
            for task, _job in left:
                task.cancel()
            for task, job in left:
                with contextlib.suppress(BaseException):
                    await task
                log.error(
                    "background job %r did not finish before shutdown; it was not done", job.name
                )
                self.stats.background_lost += 1
        finally:
            self.running = False

    # -- submitting ----------------------------------------------------------------------------
    def submit(
        self, name: str, factory: JobFactory, *, key: str | None = None, attempts: int | None = None
    ) -> None:
        """Run ``factory()`` in the background (after the current turn, if inside one).

        ``attempts=1`` for work that must not be repeated (e.g. a workflow action)."""
        job = _Job(name, factory, key, attempts or self.attempts)
        self.stats.background_submitted += 1
        turn = _turn.get()
        if turn is not None:
            turn.held.append(job)
            return
        self._spawn(job)

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold jobs submitted inside the block until it ends: the user's answer goes first."""
        token = _turn.set(_Turn())
        held: list[_Job] = []
        try:
            yield
        finally:
            current = _turn.get()
            if current is not None:
                held = current.held
            _turn.reset(token)
            for job in held:
                self._spawn(job)

    def _spawn(self, job: _Job) -> None:
        if job.key is not None:
            lock, users = self._locks.get(job.key, (asyncio.Lock(), 0))
            self._locks[job.key] = (lock, users + 1)
        task = asyncio.create_task(self._run(job), name=f"background:{job.name}")
        self._tasks[task] = job
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        job = self._tasks.pop(task, None)
        if job is not None and job.key is not None:
            lock, users = self._locks[job.key]
            if users <= 1:
                del self._locks[job.key]
            else:
                self._locks[job.key] = (lock, users - 1)

    @property
    def pending(self) -> list[str]:
        return [job.name for job in self._tasks.values()]

    async def idle(self) -> None:
        """Wait until nothing is pending (jobs submitted by jobs included)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))  # (cancelling the wait spares the jobs)

    # -- running -------------------------------------------------------------------------------
    async def _run(self, job: _Job) -> None:
        _turn.set(None)  # (in this task's copy) a job's own submissions are not held back
        lock = self._locks[job.key][0] if job.key is not None else None
        async with lock or contextlib.nullcontext():
            for attempt in range(1, job.attempts + 1):
                async with self._slots:
                    try:
                        await job.factory()
                    except Exception as exc:
                        failure, error = type(exc).__name__, exc
                    else:
                        self.stats.background_done += 1
                        break
                if attempt == job.attempts:
                    log.error(
                        "background job %r failed after %d attempt(s): %s",
                        job.name,
                        attempt,
                        failure,
                    )
                    # the message may quote secrets: the traceback only when debugging
                    log.debug("background job %r failure", job.name, exc_info=error)
                    self.stats.background_failed += 1
                    break
                delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
                log.warning(
                    "background job %r failed (attempt %d of %d): %s; retrying in %.1f s",
                    job.name,
                    attempt,
                    job.attempts,
                    failure,
                    delay,
                )
                self.stats.background_retried += 1
                await asyncio.sleep(delay)
