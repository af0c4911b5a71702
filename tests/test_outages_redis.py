"""Redis stopped mid-run: every Mattermost message is still answered, and de-duplication goes
back through Redis when it returns. A private ``redis-server`` on a free port (the shared one
on 6379 is never touched), the Mattermost protocol peer, real sockets."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings, write_skill_package

from bot.adapters.mattermost import MattermostAdapter
from bot.app import Application
from bot.config import Settings
from bot.dedupe import RETRY_SECONDS
from bot.scheduler import Scheduler

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"

SKILL = """
from bot.skill import Skill

skill = Skill("mmtest", "counts what it handles")
SEEN = []


@skill.command(r"^ping$")
async def ping(ctx):
    SEEN.append(ctx.message.id)
    await ctx.reply("pong")


@skill.schedule(seconds=3600)
async def hourly(app):
    SEEN.append("hourly")
"""


class PrivateRedis:
    """A ``redis-server`` of this test's own, stopped and started on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [REDIS_SERVER, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis.asyncio as aioredis

        client = aioredis.Redis(port=self.port)
        try:
            for _ in range(500):  # until it accepts connections (bounded, no fixed sleep)
                try:
                    await client.ping()
                    return
                except Exception:
                    await asyncio.sleep(0.01)
            raise AssertionError("redis-server did not start")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    async def exists(self, key: str) -> bool:
        import redis.asyncio as aioredis

        client = aioredis.Redis(port=self.port)
        try:
            return bool(await client.exists(key))
        finally:
            await client.aclose()

    async def set(self, key: str) -> None:
        import redis.asyncio as aioredis

        client = aioredis.Redis(port=self.port)
        try:
            await client.set(key, "1")
        finally:
            await client.aclose()


@pytest.fixture
async def private_redis(free_port: int) -> AsyncIterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists():
        if os.environ.get("CI") == "true":  # .ci/run installs it: missing there is a failure
            pytest.fail("redis-server is not installed (CI=true: it must be)")
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(free_port)
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


@pytest.fixture
def skills_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    name = write_skill_package(root, f"outage_{uuid.uuid4().hex[:8]}", SKILL)
    yield name
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def seen(pkg: str) -> list[str]:
    return sys.modules[f"{pkg}.mmtest"].SEEN  # type: ignore[no-any-return]


def make_app(peer: MattermostPeer, tmp_path: Path, pkg: str, redis_url: str) -> Application:
    raw: dict[str, Any] = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [pkg])
    raw["redis"] = {"url": redis_url, "prefix": "qm-outage:"}
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


async def health(app: Application) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{app.http.port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def test_redis_stopped_mid_run_loses_no_message_and_comes_back(
    peer: MattermostPeer,
    tmp_path: Path,
    skills_pkg: str,
    private_redis: PrivateRedis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg, private_redis.url) as app:
        now = [0.0]  # the time de-duplication waits before asking a failed Redis again
        app.dedupe.clock = lambda: now[0]
        first = await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 1)
        assert await private_redis.exists(f"qm-outage:seen:mattermost:post:{first['id']}")

        private_redis.stop()  # the outage
        caplog.clear()
        during = [await peer.post_as(alice, dm, "ping") for _ in range(10)]
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 11, timeout=30)
        await peer.redeliver(during[0]["id"])  # a replay while Redis is away: still dropped
        await peer.post_as(alice, dm, "ping")  # a sentinel behind the replay
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 12, timeout=10)
        await app.dispatcher.join()
        assert app.dedupe.redis_down
        assert app.dedupe.redis_calls == 2  # the first message; the others did not wait for it
        status, body = await health(app)
        assert status == 200 and body["redis"] is False  # degraded, still serving
        warnings = [r for r in caplog.records if "Redis is not answering" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert seen(skills_pkg).count(during[0]["id"]) == 1

        await private_redis.start()  # back, empty: claims go through it again
        answered = len(peer.bot_posts(dm))
        for _ in range(5):  # the client's first call may meet a stale connection
            now[0] += RETRY_SECONDS
            post = await peer.post_as(alice, dm, "ping")
            answered += 1
            await peer.wait_for(lambda n=answered: len(peer.bot_posts(dm)) == n, timeout=10)
            if not app.dedupe.redis_down:
                break
        assert not app.dedupe.redis_down
        assert (await health(app))[1]["redis"] is True
        assert await private_redis.exists(f"qm-outage:seen:mattermost:post:{post['id']}")
        assert any("Redis answers again" in r.getMessage() for r in caplog.records)

        # a delivery another process claimed in Redis is dropped again: Redis decides
        claimed = peer.store_post(alice, dm, "ping")
        await private_redis.set(f"qm-outage:seen:mattermost:post:{claimed['id']}")
        await peer.redeliver(claimed["id"])
        await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == answered + 1, timeout=10)
        await app.dispatcher.join()
    assert claimed["id"] not in seen(skills_pkg)
    ids = [p for p in seen(skills_pkg) if p != "hourly"]
    assert len(ids) == len(set(ids)) == answered + 1


async def test_a_firing_whose_claim_fails_runs_here(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, private_redis: PrivateRedis
) -> None:
    async with make_app(peer, tmp_path, skills_pkg, private_redis.url) as app:
        scheduler = app.scheduler
        assert isinstance(scheduler, Scheduler)
        job = next(j for j in scheduler.job_ids if j.endswith("hourly"))
        await scheduler.run(job)  # claimed in Redis
        await scheduler.run(job)  # the same slot: another firing claimed it, skipped
        assert scheduler.runs[job] == 1 and scheduler.skipped[job] == 1
        private_redis.stop()
        await scheduler.run(job)  # no claim possible: runs rather than being lost
        assert scheduler.runs[job] == 2 and scheduler.unclaimed[job] == 1
    assert seen(skills_pkg).count("hourly") == 2
