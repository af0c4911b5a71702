"""The namespaced key-value store on SQLite and PostgreSQL: values, expiry, sweeping, sharing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.kv import KeyValueStore
from bot.storage.db import close_database, open_database
from bot.storage.models import KeyValue


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    await open_database(db_url)
    yield db_url
    await close_database()


async def test_values_round_trip_per_namespace(db: str) -> None:
    kv = KeyValueStore()
    await kv.set("a", "k", {"n": 1, "list": [1, "two"]})
    await kv.set("b", "k", ["x", "y"])
    await kv.set("a", "text", "plain")
    assert await kv.get("a", "k") == {"n": 1, "list": [1, "two"]}
    assert await kv.get("b", "k") == ["x", "y"]
    assert await kv.get("a", "text") == "plain"
    assert await kv.get("a", "missing") is None
    assert await kv.get("a", "missing", default=0) == 0
    await kv.set("a", "k", {"n": 2})  # overwrite
    await kv.delete("b", "k")
    await kv.delete("b", "never-there")  # deleting nothing is fine
    assert await kv.get("a", "k") == {"n": 2}
    assert await kv.get("b", "k") is None
    assert await KeyValue.filter(namespace="a", key="k").count() == 1


async def test_expired_values_read_as_absent_and_are_swept(db: str) -> None:
    clock = Clock()
    kv = KeyValueStore(clock=clock)
    await kv.set("ns", "short", 1, ttl=timedelta(minutes=5))
    await kv.set("ns", "long", 2, ttl=timedelta(days=1))
    await kv.set("ns", "forever", 3)
    clock.now += timedelta(minutes=6)
    assert [await kv.get("ns", k) for k in ("short", "long", "forever")] == [None, 2, 3]
    assert await KeyValue.all().count() == 3  # read as absent, not yet deleted
    assert await kv.sweep() == 1
    assert sorted(await KeyValue.all().values_list("key", flat=True)) == ["forever", "long"]
    await kv.set("ns", "short", 4, ttl=timedelta(minutes=5))  # a new value, a new expiry
    assert await kv.get("ns", "short") == 4
    await kv.set("ns", "long", 5)  # no ttl: no longer expires
    clock.now += timedelta(days=2)
    assert await kv.get("ns", "long") == 5


async def test_a_namespace_view_carries_its_default_ttl(db: str) -> None:
    clock = Clock()
    kv = KeyValueStore(clock=clock)
    cursors = kv.namespace("mattermost.cursors", ttl=timedelta(hours=1))
    await cursors.set("bot1", {"c": 5})
    await cursors.set("bot2", {"c": 6}, ttl=timedelta(days=3))
    assert await kv.get("mattermost.cursors", "bot1") == {"c": 5}
    clock.now += timedelta(hours=2)
    assert await cursors.get("bot1") is None and await cursors.get("bot2") == {"c": 6}
    await cursors.delete("bot2")
    assert await cursors.get("bot2") is None


async def test_two_stores_share_values_and_concurrent_writes_leave_one_row(db: str) -> None:
    one, other = KeyValueStore(), KeyValueStore()  # two processes' stores
    await asyncio.gather(*(store.set("ns", "k", i) for i, store in enumerate([one, other] * 4)))
    assert await KeyValue.filter(namespace="ns", key="k").count() == 1
    assert await one.get("ns", "k") == await other.get("ns", "k")
    await one.delete("ns", "k")
    assert await other.get("ns", "k") is None


async def test_start_sweeps_and_stop_ends_the_sweeper(db: str) -> None:
    clock = Clock()
    kv = KeyValueStore(clock=clock)
    await kv.set("ns", "old", 1, ttl=timedelta(seconds=1))
    clock.now += timedelta(seconds=2)
    await kv.start()
    try:
        assert await KeyValue.all().count() == 0
    finally:
        await kv.stop()
    await kv.stop()  # twice is harmless


@pytest.mark.parametrize(
    ("namespace", "key"), [("", "k"), ("n" * 65, "k"), ("ns", ""), ("ns", "k" * 301)]
)
async def test_names_that_do_not_fit_the_table_are_refused(
    db: str, namespace: str, key: str
) -> None:
    with pytest.raises(ValueError):
        await KeyValueStore().set(namespace, key, 1)


async def test_an_upgrade_moves_plumbing_rows_out_of_the_conversations(db_url: str) -> None:
    """Migration 0003 on a database written by the previous version: Mattermost's catch-up
    positions, its part indexes and the shell's choices move to the store (where the adapters
    now read them), Slack's unsplittable part rows go, real conversations stay."""
    from tortoise import Tortoise

    from bot.storage.models import Conversation

    await open_database(db_url)
    legacy = {
        "mattermost:catch-up": {"bot": "b0t", "saved_at": 1.5e9, "cursors": {"ch1": 1700}},
        "mattermost:parts:p1": {"parts": ["p1", "p2"]},
        "slack:parts:C123171.000100": {"parts": ["171.000100", "171.000200"]},
        "shell:choices:dm-alice": {
            "message_id": "m3",
            "dm": True,
            "choices": [["Yes", "confirm", "k"]],
        },
        "test:dm-alice::alice": {"followup": "workflow.answer", "data": {}},
    }
    for key, state in legacy.items():
        await Conversation.create(key=key, state=state)
    await Tortoise.get_connection("default").execute_query(
        "DELETE FROM tortoise_migrations WHERE name = '0003_plumbing_rows_to_kv'"
    )
    await close_database()
    await open_database(db_url)  # sees 0003 unapplied and runs it, as an upgrade does
    try:
        kv = KeyValueStore()
        assert await kv.get("mattermost.cursors", "b0t") == {
            "saved_at": 1.5e9,
            "cursors": {"ch1": 1700},
        }
        assert await kv.get("mattermost.parts", "p1") == ["p1", "p2"]
        assert (await kv.get("shell.choices", "dm-alice"))["choices"] == [["Yes", "confirm", "k"]]
        assert await Conversation.all().values_list("key", flat=True) == ["test:dm-alice::alice"]
    finally:
        await close_database()
