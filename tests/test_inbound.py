"""The core's inbound stages (bot/inbound.py) and its housekeeping jobs (bot/periodic.py):
echoes, duplicates and chatter are decided once, before the dispatcher, for any adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events import Interaction, Message
from bot.periodic import Periodic
from bot.storage.models import SeenEvent
from bot.testing import TestBot


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[TestBot]:
    async with TestBot.create(tmp_path) as bot:
        yield bot


def dm(text: str, *ids: str, from_self: bool = False) -> Message:
    return Message(
        "test",
        "alice",
        "alice",
        "dm:alice",
        text,
        direct=True,
        delivery_ids=ids,
        from_self=from_self,
    )


async def test_the_bots_own_echo_is_dropped_uncounted(bot: TestBot) -> None:
    await bot.app.process(dm("ping", "test:1", from_self=True))
    assert bot.sent == []
    assert bot.app.inbound.echoes == 1 and bot.app.stats.received == {}


async def test_a_delivery_sharing_any_id_with_an_earlier_one_is_dropped(bot: TestBot) -> None:
    await bot.app.process(dm("ping", "event:1", "msg:C:1"))
    await bot.app.process(dm("ping", "event:2", "msg:C:1"))  # same message, another event
    await bot.app.process(dm("ping", "event:1"))  # a retry of the first event
    await bot.app.process(dm("ping", "event:3", "msg:C:2"))  # a new message
    assert [s.text for s in bot.sent] == ["pong", "pong"]
    assert bot.app.inbound.duplicates == 2
    assert await SeenEvent.filter(key__in=["event:1", "msg:C:1", "event:3"]).count() == 3


async def test_chatter_is_dropped_before_it_costs_a_claim(bot: TestBot) -> None:
    chatter = Message("test", "alice", "alice", "general", "ping", delivery_ids=("chat:1",))
    await bot.app.process(chatter)
    assert bot.sent == [] and bot.app.stats.ignored == 1
    assert await SeenEvent.filter(key="chat:1").count() == 0


async def test_a_repeated_click_is_handled_once(bot: TestBot) -> None:
    click = Interaction(
        "test",
        "alice",
        "alice",
        "dm:alice",
        "no.such.action",
        "",
        message_id="m1",
        direct=True,
        delivery_ids=("click:1",),
    )
    await bot.app.process(click)
    handled = bot.app.stats.handled
    await bot.app.process(click)
    assert handled == 1 and bot.app.stats.handled == 1
    assert bot.app.inbound.duplicates == 1 and bot.app.stats.interactions == 2


async def test_a_missing_name_is_looked_up_by_the_core_for_handled_turns(bot: TestBot) -> None:
    await bot.app.process(Message("test", "alice", "", "dm:alice", "whoami", direct=True))
    assert bot.sent[-1].text.startswith("You are alice ")


async def test_a_periodic_job_runs_at_start_then_at_each_tick_and_stops_cleanly() -> None:
    ticks: asyncio.Queue[None] = asyncio.Queue()
    runs: list[int] = []
    ran = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        ran.set()
        if len(runs) == 2:
            raise RuntimeError("the database is away")  # logged; the loop goes on

    async def wait(seconds: float) -> None:
        await ticks.get()

    periodic = Periodic(job, 900.0, name="test-job", wait=wait)
    await periodic.start()
    assert runs == [0]
    for expected in (2, 3):
        ran.clear()
        ticks.put_nowait(None)
        await ran.wait()
        assert len(runs) == expected
    await periodic.stop()
    assert periodic._task is None
