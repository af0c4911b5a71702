"""Background work: retried with back-off, in order per key, bounded, held until the turn ends,
drained at stop, and whatever cannot finish is logged by name (never its secrets)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.background import BackgroundWork


def work(**kwargs: object) -> BackgroundWork:
    bg = BackgroundWork(base_delay=0.0, **kwargs)  # type: ignore[arg-type]
    bg.start()
    return bg


async def test_a_failing_job_is_retried_until_it_succeeds() -> None:
    bg = work()
    calls: list[int] = []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("platform hiccup")

    bg.submit("flaky", flaky)
    await bg.idle()
    assert len(calls) == 3
    assert (bg.stats.background_retried, bg.stats.background_done, bg.stats.background_failed) == (
        2,
        1,
        0,
    )


async def test_giving_up_is_logged_by_name_without_the_error_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bg = work(attempts=2)

    async def leaky() -> None:
        raise RuntimeError("token=xoxb-very-secret")

    with caplog.at_level(logging.WARNING, logger="bot.background"):
        bg.submit("DM to test:alice", leaky)
        await bg.idle()
    assert bg.stats.background_failed == 1 and bg.stats.background_retried == 1
    assert "DM to test:alice" in caplog.text and "RuntimeError" in caplog.text
    assert "xoxb" not in caplog.text


async def test_jobs_with_one_key_run_in_submission_order() -> None:
    bg = work()
    gate = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        await gate.wait()
        order.append("first")

    async def second() -> None:
        order.append("second")

    async def other() -> None:
        order.append("other")
        gate.set()

    bg.submit("first", first, key="REQ-1")
    bg.submit("second", second, key="REQ-1")
    bg.submit("other", other, key="REQ-2")  # another key is not held up
    await bg.idle()
    assert order == ["other", "first", "second"]


async def test_concurrency_is_bounded() -> None:
    bg = work(concurrency=2)
    active = peak = 0
    gate = asyncio.Event()

    async def job() -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await gate.wait()
        active -= 1

    for i in range(5):
        bg.submit(f"job {i}", job)
    while active < 2:
        await asyncio.sleep(0)
    gate.set()
    await bg.idle()
    assert peak == 2 and bg.stats.background_done == 5


async def test_jobs_submitted_during_a_turn_start_when_it_ends() -> None:
    bg = work()
    ran: list[str] = []

    async def job() -> None:
        ran.append("job")

    with bg.turn():
        bg.submit("after the answer", job)
        for _ in range(5):
            await asyncio.sleep(0)
        ran.append("answer")
    await bg.idle()
    assert ran == ["answer", "job"]


async def test_stop_drains_pending_work() -> None:
    bg = work()
    done: list[int] = []

    async def job(i: int) -> None:
        await asyncio.sleep(0)
        done.append(i)

    for i in range(3):
        bg.submit(f"job {i}", lambda i=i: job(i))
    await bg.stop()
    assert sorted(done) == [0, 1, 2] and not bg.pending


async def test_work_that_cannot_finish_in_the_drain_time_is_logged_not_lost_silently(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bg = work(drain_seconds=0.05)
    never = asyncio.Event()

    async def stuck() -> None:
        await never.wait()

    bg.submit("e-mail to test:bob", stuck)
    with caplog.at_level(logging.ERROR, logger="bot.background"):
        await bg.stop()
    assert bg.stats.background_lost == 1
    assert "e-mail to test:bob" in caplog.text and "did not finish" in caplog.text
