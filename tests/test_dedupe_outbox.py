"""Duplicate deliveries are dropped (database or Redis); 429s are waited out per channel."""

import asyncio
import time

import pytest

from bot.dedupe import Deduplicator
from bot.outbox import Outbox, RateLimited
from bot.storage.db import close_database, open_database


async def test_database_dedupe_survives_a_new_process_view(db_url):
    await open_database(db_url)
    try:
        first = Deduplicator()
        assert await first.first_time("slack:Ev1", "slack:C1:1700000000.0001")
        assert not await first.first_time("slack:Ev1")
        # a second instance (another start) still knows: the database decides
        second = Deduplicator()
        assert not await second.first_time("slack:Ev2", "slack:C1:1700000000.0001")
        assert await second.first_time("slack:Ev3")
    finally:
        await close_database()


async def test_redis_dedupe_is_shared_between_processes(redis_client):
    a = Deduplicator(redis=redis_client, prefix=redis_client.qm_prefix, use_database=False)
    b = Deduplicator(redis=redis_client, prefix=redis_client.qm_prefix, use_database=False)
    results = await asyncio.gather(*(d.first_time("mm:post1") for d in (a, b, a, b)))
    assert results.count(True) == 1
    ttl = await redis_client.ttl(f"{redis_client.qm_prefix}seen:mm:post1")
    assert 0 < ttl <= 3600


async def test_outbox_waits_out_retry_after_and_keeps_order():
    calls: list[tuple[str, float]] = []
    limited = {"n": 1}

    async def post(channel: str, text: str) -> str:
        calls.append((text, time.monotonic()))
        if limited["n"] > 0:
            limited["n"] -= 1
            raise RateLimited(0.2)
        return text

    box = Outbox()
    start = time.monotonic()
    results = await asyncio.gather(
        box.call("C1", lambda: post("C1", "one")), box.call("C1", lambda: post("C1", "two"))
    )
    assert results == ["one", "two"]
    assert [c[0] for c in calls] == ["one", "one", "two"]
    assert calls[1][1] - start >= 0.2
    assert box.waited >= 0.19


async def test_outbox_gives_up_after_max_retries():
    async def always_limited() -> None:
        raise RateLimited(0.01)

    with pytest.raises(RateLimited):
        await Outbox(max_retries=2).call("C", always_limited)
