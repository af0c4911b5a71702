"""The pieces of outage handling on their own: what counts as the database being away, the
time limit around blocks of queries, de-duplication when Redis is gone, the user's sentence."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from peers.tcp_proxy import PausableProxy

from bot.dedupe import RETRY_SECONDS, Deduplicator
from bot.errors import DatabaseNotAnswering
from bot.storage.db import answering, close_database, is_outage, open_database
from bot.testing import TestBot

SLOW_SKILL = """
import asyncio

from bot.skill import Skill

skill = Skill("probe", "fails in the ways a handler can")


@skill.command(r"^slow web$")
async def slow_web(ctx):
    async with asyncio.timeout(0):  # a provider's call that timed out: not the database
        await asyncio.Event().wait()
"""


@pytest.mark.postgres
async def test_a_refused_connection_is_an_outage_and_a_bug_is_not(pg_url: str) -> None:
    from bot.storage.models import Conversation

    parts = urlsplit(pg_url)
    assert parts.hostname is not None and parts.port is not None
    proxy = PausableProxy(parts.hostname, parts.port)
    port = await proxy.start()
    await open_database(f"postgres://postgres@127.0.0.1:{port}{parts.path}", query_timeout=1)
    try:
        await proxy.close()
        for _ in range(2):  # the cut pooled connection, then a refused new one
            with pytest.raises(Exception) as raw:
                await Conversation.all()  # no answering(): the driver's own error
            assert is_outage(raw.value), repr(raw.value)
    finally:
        await close_database()
    assert not is_outage(TimeoutError())  # not raised inside a database driver
    assert not is_outage(ValueError("bad input"))
    assert not is_outage(asyncpg.exceptions.DataError("invalid input for query argument"))


async def test_answering_bounds_a_stalled_block(tmp_path: Path) -> None:
    await open_database(f"sqlite://{tmp_path / 'db.sqlite3'}", query_timeout=0.05)
    try:
        with pytest.raises(DatabaseNotAnswering, match=r"the key-value store: .* within 0\.05 s"):
            async with answering("the key-value store"):
                await asyncio.Event().wait()  # a query that never comes back
        with pytest.raises(KeyError):  # other errors pass through unchanged
            async with answering():
                raise KeyError("x")
    finally:
        await close_database()


async def test_dedupe_without_redis_uses_the_database_and_warns_once(
    tmp_path: Path, free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port}/0")  # nothing listens
    await open_database(f"sqlite://{tmp_path / 'db.sqlite3'}")
    try:
        first = Deduplicator(redis=dead)
        assert await first.first_time("mattermost:post:a")
        assert not await first.first_time("mattermost:post:a")  # the process's cache
        assert await first.first_time("mattermost:post:b")
        second = Deduplicator(redis=dead)  # another process: the database's unique key decides
        assert not await second.first_time("mattermost:post:a")
        assert first.redis_down and first.local_claims == 2 and first.redis_calls == 1
    finally:
        await close_database()
        await dead.aclose()
    warnings = [r for r in caplog.records if "Redis is not answering" in r.getMessage()]
    assert len(warnings) == 2  # one per deduplicator (process), not one per message
    assert all(r.levelno == logging.WARNING for r in warnings)


async def test_dedupe_takes_a_delivery_as_new_when_nothing_answers(free_port: int) -> None:
    dead = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port}/0")
    try:
        dedupe = Deduplicator(redis=dead)  # and no database open at all
        assert await dedupe.first_time("slack:Ev1")
        assert dedupe.redis_down and dedupe.database_down
        assert not await dedupe.first_time("slack:Ev1")  # still caught by the cache
    finally:
        await dead.aclose()


async def test_a_timeout_outside_the_database_is_still_an_apology(tmp_path: Path, skill_pkg):
    skill_pkg.write("probe", SLOW_SKILL)
    bot = TestBot.create(tmp_path, overrides={"skills.packages": [skill_pkg.name]})
    async with bot:
        replies = await bot.say("alice", "slow web")
    assert len(replies) == 1
    assert replies[0].text.startswith("Sorry, something went wrong on my side")
    assert "database" not in replies[0].text


@pytest.mark.redis
async def test_a_stalled_redis_is_asked_again_only_after_a_while(redis_client: Any) -> None:
    """The shared Redis behind a proxy the test pauses; ``redis_client`` removes the keys."""
    kwargs = redis_client.connection_pool.connection_kwargs
    proxy = PausableProxy(kwargs["host"], kwargs["port"])
    port = await proxy.start()
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{port}/0")
    now = [0.0]
    prefix = redis_client.qm_prefix
    dedupe = Deduplicator(
        redis=client, prefix=prefix, use_database=False, timeout=0.2, clock=lambda: now[0]
    )
    try:
        assert await dedupe.first_time("warm")  # connected while it still answers
        proxy.pause()
        assert await dedupe.first_time("a")  # Redis timed out: decided here
        assert await dedupe.first_time("b")  # not asked again yet
        assert dedupe.redis_down and dedupe.redis_calls == 2
        now[0] += RETRY_SECONDS
        assert await dedupe.first_time("c")  # asked again, still stalled
        assert dedupe.redis_calls == 3
        proxy.resume()
        now[0] += RETRY_SECONDS
        assert await dedupe.first_time("d")
        assert not dedupe.redis_down and dedupe.redis_calls == 4
        assert await client.exists(f"{prefix}seen:d")
    finally:
        await client.aclose()
        await proxy.close()
