"""Dialogue state shared live between bot processes through Redis (two apps, one DB, one Redis)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.testing import TestBot

PROBE = """
from bot.skill import Skill

skill = Skill("probe", "test dialogue")

@skill.command(r"ask name")
async def ask(ctx):
    await ctx.expect("probe.name", {"asked": True})
    await ctx.reply("What's your name?")

@skill.followup("probe.name")
async def name(ctx):
    await ctx.done()
    await ctx.reply("Nice to meet you, " + ctx.message.text)
"""

ALICE_DM = "test:dm:alice::alice"  # Message.conversation_key of alice's DM with the bot


async def until(check: Callable[[], Any], what: str, deadline: float = 10.0) -> None:
    """Poll ``check`` until true; changes travel over real Redis, so no fixed sleep."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while not check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def two_bots(
    tmp_path: Path, db_url: str, redis_client: Any, **extra: Any
) -> AsyncIterator[tuple[TestBot, TestBot]]:
    """Two "processes" on one database and one Redis prefix (bot B starts after bot A)."""
    overrides = {
        "redis.url": "redis://127.0.0.1:6379/0",
        "redis.prefix": redis_client.qm_prefix,
        **extra,
    }
    homes = tmp_path / "a", tmp_path / "b"
    for home in homes:
        home.mkdir()
    async with (
        TestBot.create(homes[0], database_url=db_url, overrides=overrides) as a,
        TestBot.create(homes[1], database_url=db_url, overrides=overrides) as b,
    ):
        try:
            yield a, b
        finally:  # one tortoise per test process: B's stop closes the database A wrote to
            await a.app.audit.flush()


async def test_a_dialogue_begun_on_one_process_is_answered_on_another(
    tmp_path, skill_pkg, redis_client, db_url
):
    skill_pkg.write("probe", PROBE)
    async with two_bots(
        tmp_path, db_url, redis_client, **{"skills.packages": ["skills", skill_pkg.name]}
    ) as (a, b):
        (q,) = await a.say("alice", "ask name")
        assert q.text == "What's your name?"
        await until(lambda: b.app.conversations.peek(ALICE_DM) is not None, "B to see the draft")
        assert b.app.conversations.peek(ALICE_DM) == {
            "followup": "probe.name",
            "data": {"asked": True},
        }
        (answer,) = await b.say("alice", "Alice")
        assert answer.text == "Nice to meet you, Alice"
        # B's ctx.done() cleared it: A forgets the draft too
        await until(lambda: a.app.conversations.peek(ALICE_DM) is None, "A to see the clear")
        (c,) = await a.say("alice", "cancel")
        assert c.text == "There's nothing in progress to cancel."


async def test_a_workflow_request_moves_between_processes(tmp_path, redis_client, db_url):
    from bot.storage.models import Request

    async with two_bots(tmp_path, db_url, redis_client) as (a, b):
        out = await a.say("alice", "request quota 2TB")
        assert "storage area" in out[-1].text
        await until(lambda: b.app.conversations.peek(ALICE_DM) is not None, "B to see the draft")
        out = await b.say("alice", "/scratch/group/neuro")
        assert "what is the space for" in out[-1].text.lower()
        await until(
            lambda: "/scratch/group/neuro" in json.dumps(a.app.conversations.peek(ALICE_DM)),
            "A to see B's step",
        )
        out = await a.say("alice", "simulation output")
        assert out[-1].labels == ["File it", "Discard"]
        await until(
            lambda: "simulation output" in json.dumps(b.app.conversations.peek(ALICE_DM)),
            "B to see A's step",
        )
        out = await b.click("alice", out[-1], "File it")
        req = await Request.get()
        assert req.fields_data["path"] == "/scratch/group/neuro"
        assert req.fields_data["reason"] == "simulation output"
        await until(lambda: a.app.conversations.peek(ALICE_DM) is None, "A to forget the draft")


async def test_own_echoes_are_ignored_and_garbage_is_logged_not_applied(
    tmp_path, redis_client, caplog, db_url
):
    async with two_bots(tmp_path, db_url, redis_client) as (a, b):
        store_a, store_b = a.app.conversations, b.app.conversations
        channel = f"{redis_client.qm_prefix}conversations"
        assert store_b.channel == channel
        garbage = [
            b"not json {",
            b"[1, 2]",
            b"null",
            json.dumps({"origin": "x", "key": 5, "state": {}}).encode(),
            json.dumps({"origin": "x", "key": "k", "state": "secret-ish"}).encode(),
            json.dumps({"origin": "x", "key": "k", "state": {}, "expires_at": "tomorrow"}).encode(),
        ]
        with caplog.at_level(logging.WARNING, logger="bot.conversations"):
            for payload in garbage:
                await redis_client.publish(channel, payload)
            await store_a.save("k1", {"n": 1})
            await until(lambda: store_b.peek("k1") == {"n": 1}, "B to apply after garbage")
        assert store_b.ignored == len(garbage) and store_b.applied == 1
        assert "secret-ish" not in caplog.text and "malformed conversation update" in caplog.text

        # out-of-order delivery: a change stamped earlier than the one held loses (last write wins)
        def change(at: float, state: dict[str, Any] | None, key: str = "k1") -> bytes:
            return json.dumps(
                {"origin": "other", "at": at, "key": key, "state": state, "expires_at": None}
            ).encode()

        held_at = store_b._stamps["k1"][0]
        await redis_client.publish(channel, change(held_at - 5, None))  # older clear
        await redis_client.publish(channel, change(held_at + 5, {"n": 3}))  # newer save
        await redis_client.publish(channel, change(held_at + 1, {"n": 2}))  # late, older
        await redis_client.publish(channel, change(held_at, {"end": 1}, "sentinel"))
        for store in (store_a, store_b):  # one channel delivers in order: all were handled
            await until(lambda s=store: s.peek("sentinel") is not None, "the sentinel")
        assert store_a.peek("k1") == store_b.peek("k1") == {"n": 3}
        # A's own echo (published before B's change) never counts as a remote change
        await store_b.save("k2", {"n": 2})
        await until(lambda: store_a.peek("k2") == {"n": 2}, "A to see B's change")
        assert store_a.applied == 3  # {"n": 3} and the sentinel above, then B's change
        assert store_a._task is not None and not store_a._task.done()
        assert store_b._task is not None and not store_b._task.done()


async def test_a_change_missed_while_disconnected_is_reloaded_from_the_database(
    tmp_path, redis_client, db_url
):
    from datetime import UTC, datetime, timedelta

    from bot.storage.models import Conversation

    name = f"qmtest-{uuid.uuid4().hex[:8]}"
    async with two_bots(
        tmp_path,
        db_url,
        redis_client,
        **{"redis.url": f"redis://127.0.0.1:6379/0?client_name={name}"},
    ) as (a, b):
        store_b = b.app.conversations
        resyncs = store_b.resyncs
        # a process wrote the DB but its publish never reached B (lost while B reconnects)
        expires = datetime.now(UTC) + timedelta(minutes=5)
        await Conversation.create(key="lost", state={"n": 7}, expires_at=expires)
        assert store_b.peek("lost") is None
        subscribers = [
            c["id"]
            for c in await redis_client.client_list()
            if c["name"] == name and c["sub"] != "0"
        ]
        assert len(subscribers) == 2  # one subscription per bot
        for client_id in subscribers:
            await redis_client.client_kill_filter(_id=client_id)
        await until(lambda: store_b.resyncs > resyncs, "B to resubscribe and reload")
        assert store_b.peek("lost") == {"n": 7}
        # and sharing still works after the reconnect
        await a.app.conversations.save("after", {"n": 8})
        await until(lambda: store_b.peek("after") == {"n": 8}, "B to follow again")


async def test_without_redis_nothing_is_shared_and_dialogues_work(tmp_path, skill_pkg):
    skill_pkg.write("probe", PROBE)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        store = bot.app.conversations
        assert bot.app.redis is None and store.channel is None and store._task is None
        await bot.say("alice", "ask name")
        (a,) = await bot.say("alice", "Alice")
        assert a.text == "Nice to meet you, Alice"
        assert store.peek(ALICE_DM) is None and store.applied == 0
