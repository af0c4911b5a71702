"""Schedules declared by skills run on APScheduler; /healthz and /metrics over a real socket."""

import asyncio

import aiohttp

from bot.testing import TestBot
from tests.service_keys import NIGHTLY, TICKS

TICKER = """
from bot.skill import Skill
from tests.service_keys import NIGHTLY, TICKS
skill = Skill("ticker", "")

@skill.schedule(seconds=0.05)
async def tick(app):
    app.services[TICKS] = (app.services.get(TICKS) or 0) + 1

@skill.schedule(cron="0 3 * * *")
async def nightly(app):
    app.services[NIGHTLY] = True
"""


async def test_declared_schedules_run_and_resync_after_reload(tmp_path, skill_pkg):
    skill_pkg.write("ticker", TICKER)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        scheduler = bot.app.scheduler
        assert scheduler is not None
        ours = [j for j in scheduler.job_ids if j.startswith("ticker.")]
        assert ours == ["ticker.nightly", "ticker.tick"]
        for _ in range(500):  # generous: CI machines can be busy
            if (bot.app.services.get(TICKS) or 0) >= 2:
                break
            await asyncio.sleep(0.02)
        assert bot.app.services[TICKS] >= 2
        assert scheduler.next_run("ticker.nightly").hour == 3
        await scheduler.run("ticker.nightly")
        assert bot.app.services[NIGHTLY] is True
        (skill_pkg.path / "ticker.py").unlink()
        await bot.grant("root", "admin")
        await bot.say("root", "reload skills")
        assert not [j for j in scheduler.job_ids if j.startswith("ticker.")]


async def test_healthz_and_metrics(tmp_path):
    async with TestBot.create(tmp_path, overrides={"http.enabled": True, "http.port": 0}) as bot:
        await bot.say("alice", "ping")
        await bot.say("alice", "ping", channel="general", mention=False)
        port = bot.app.http.port
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
                body = await resp.json()
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                metrics = await resp.text()
        assert body["status"] == "ok" and body["database"] is True
        assert body["adapters"] == {"test": True}
        assert 'quartermaster_messages_received_total{platform="test"} 2.0' in metrics
        assert "quartermaster_ignored_total 1.0" in metrics
        assert 'quartermaster_adapter_connected{platform="test"} 1.0' in metrics
        for name in (
            "background_submitted",
            "background_failed",
            "observer_alerts",
            "observer_errors",
            "actions_failed",
        ):
            assert f"quartermaster_{name}_total 0.0" in metrics


async def test_with_redis_each_job_firing_runs_in_one_process_only(
    tmp_path, skill_pkg, redis_client
):
    """Two bot processes (two apps) share Redis: a firing is claimed by exactly one of them."""
    skill_pkg.write("ticker", TICKER)
    overrides = {
        "skills.packages": ["skills", skill_pkg.name],
        "redis.url": "redis://127.0.0.1:6379/0",
        "redis.prefix": redis_client.qm_prefix,
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        TestBot.create(tmp_path / "a", overrides=overrides) as one,
        TestBot.create(tmp_path / "b", overrides=overrides) as two,
    ):
        await asyncio.gather(
            one.app.scheduler.run("ticker.nightly"), two.app.scheduler.run("ticker.nightly")
        )
        ran = [bool(bot.app.services.get(NIGHTLY)) for bot in (one, two)]
        assert sorted(ran) == [False, True]
        assert (
            one.app.scheduler.skipped.get("ticker.nightly", 0)
            + two.app.scheduler.skipped.get("ticker.nightly", 0)
            == 1
        )


async def test_unreachable_redis_is_a_clear_start_up_error(tmp_path, free_port):
    import pytest

    from bot.errors import StorageUnavailable

    bot = TestBot.create(tmp_path, overrides={"redis.url": f"redis://:pw@127.0.0.1:{free_port}/0"})
    with pytest.raises(StorageUnavailable, match="cannot reach Redis at redis://:\\*\\*\\*@"):
        await bot.app.start()


async def test_job_slots_follow_the_apps_clock(tmp_path, skill_pkg, redis_client):
    """The Redis claim's time slot comes from ``app.clock``: same slot, one run; the next slot
    (the clock moved, nothing slept) runs again."""
    from datetime import UTC, datetime

    from bot.testing import FakeClock

    skill_pkg.write("ticker", TICKER)
    clock = FakeClock(datetime(2027, 1, 1, 3, 0, tzinfo=UTC))
    overrides = {
        "skills.packages": ["skills", skill_pkg.name],
        "redis.url": "redis://127.0.0.1:6379/0",
        "redis.prefix": redis_client.qm_prefix,
    }
    async with TestBot.create(tmp_path, overrides=overrides, clock=clock) as bot:
        scheduler = bot.app.scheduler
        await scheduler.run("ticker.nightly")
        await scheduler.run("ticker.nightly")
        assert scheduler.runs["ticker.nightly"] == 1 and scheduler.skipped["ticker.nightly"] == 1
        clock.advance(minutes=1)
        await scheduler.run("ticker.nightly")
        assert scheduler.runs["ticker.nightly"] == 2


BLOCKER = """
import asyncio
from bot.skill import Skill
from tests.service_keys import JOB_STARTED
skill = Skill("blocker", "")

@skill.schedule(seconds=0.05)
async def wait_forever(app):
    app.services[JOB_STARTED].set()
    await asyncio.Event().wait()
"""


async def test_a_job_running_at_stop_is_cancelled_quietly(tmp_path, skill_pkg, caplog):
    """Stopping while a job runs (APScheduler started it) logs no error, no traceback, and no
    APScheduler complaint while stopping; one info line says what was stopped."""
    import logging

    from tests.service_keys import JOB_STARTED

    skill_pkg.write("blocker", BLOCKER)
    caplog.set_level(logging.INFO)
    bot = TestBot.create(tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]})
    started = bot.app.services[JOB_STARTED] = asyncio.Event()
    async with bot:
        await asyncio.wait_for(started.wait(), timeout=30)
        before_stop = len(caplog.records)
    records = caplog.records
    assert not [r for r in records if r.levelno >= logging.ERROR or r.exc_info], [
        r.getMessage() for r in records if r.levelno >= logging.ERROR
    ]
    assert not [
        r
        for r in records[before_stop:]
        if r.name.startswith("apscheduler") and r.levelno >= logging.WARNING
    ]
    stopped = [
        r
        for r in records[before_stop:]
        if r.name == "bot.scheduler" and "blocker.wait_forever" in r.getMessage()
    ]
    assert len(stopped) == 1 and stopped[0].levelno == logging.INFO


async def test_a_periodic_job_running_at_stop_is_cancelled_quietly(tmp_path, caplog):
    import logging
    from datetime import timedelta

    caplog.set_level(logging.INFO)
    started = asyncio.Event()

    async def wait_forever() -> None:
        started.set()
        await asyncio.Event().wait()

    async with TestBot.create(tmp_path) as bot:
        bot.app.scheduler.add_periodic("observer:test", wait_forever, timedelta(seconds=1))
        await asyncio.wait_for(started.wait(), timeout=30)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
