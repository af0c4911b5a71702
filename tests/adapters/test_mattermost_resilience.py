"""Mattermost resilience over real sockets: reconnect, catch-up, de-duplication, 429s.

Prior art (err-backend-mattermost#57, mmpy_bot#171) shows Mattermost bots going deaf after a
dropped connection; these tests drop it and check nothing is lost and nothing is handled twice.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings, write_skill_package

from bot.adapters.mattermost import MattermostAdapter
from bot.app import Application
from bot.config import Settings

SKILL = """
from bot.skill import Skill

skill = Skill("mmtest", "counts what it handles")
SEEN = []


@skill.command(r"^ping$")
async def ping(ctx):
    SEEN.append(ctx.message.id)
    await ctx.reply("pong")
"""


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


@pytest.fixture
def skills_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    return write_skill_package(root, f"mmskills_{uuid.uuid4().hex[:8]}", SKILL)


def seen(pkg: str) -> list[str]:
    return sys.modules[f"{pkg}.mmtest"].SEEN  # type: ignore[no-any-return]


def make_app(
    peer: MattermostPeer,
    tmp_path: Path,
    pkg: str,
    redis: dict[str, Any] | None = None,
    **mattermost: Any,
) -> Application:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [pkg], **mattermost)
    if redis:
        raw["redis"] = redis
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


async def until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("abrupt", [False, True], ids=["close", "reset"])
async def test_dropped_websocket_reconnects_and_catches_up_once(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, abrupt: bool
) -> None:
    alice = peer.add_user("alice")
    bob = peer.add_user("bob")
    town = peer.add_channel("town-square", members=[alice, bob, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        before = await peer.post_as(alice, town, "@quartermaster ping")
        await peer.wait_for(lambda: peer.bot_posts(town))

        peer.accepting_websockets = False  # the outage: refuse reconnects for now
        await peer.drop_websockets(abrupt=abrupt)
        await until(lambda: not adapter.connected)
        during = await peer.post_as(alice, town, "@quartermaster ping")
        dm = peer.dm_channel(bob, peer.bot_id)  # a DM opened during the gap
        in_dm = await peer.post_as(bob, dm, "ping")
        await peer.post_as(bob, town, "just chatting")
        await asyncio.sleep(0.3)  # a few refused reconnect attempts
        assert not peer.sockets
        peer.accepting_websockets = True

        await peer.wait_for(lambda: peer.bot_posts(dm) and len(peer.bot_posts(town)) == 2)
        await app.dispatcher.join()
        assert adapter.connected and adapter.reconnects >= 2
        # the catch-up re-read the post handled before the drop: de-duplication dropped it
        catchup = peer.calls_to("GET", rf"/channels/{town}/posts$")
        assert catchup
    assert sorted(seen(skills_pkg)) == sorted([before["id"], during["id"], in_dm["id"]])
    answers = peer.bot_posts(town)
    assert {p["root_id"] for p in answers} == {before["id"], during["id"]}
    assert peer.ws_connections >= 2


async def test_redelivered_event_is_handled_once(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg) as app:
        post = await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: peer.bot_posts(dm))
        await peer.redeliver(post["id"])
        await peer.post_as(alice, dm, "ping")  # a sentinel behind the replay
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 2)
        await app.dispatcher.join()
    assert len(seen(skills_pkg)) == 2 and seen(skills_pkg)[0] == post["id"]


async def test_redis_decides_across_processes(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, redis_client: Any
) -> None:
    prefix = redis_client.qm_prefix
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    redis = {"url": "redis://127.0.0.1:6379/0", "prefix": prefix}
    async with make_app(peer, tmp_path, skills_pkg, redis=redis) as app:
        first = await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: peer.bot_posts(dm))
        assert await redis_client.exists(f"{prefix}seen:mattermost:post:{first['id']}")
        # another bot process claims the next post first: this one must leave it alone
        post = peer.store_post(alice, dm, "ping")
        await redis_client.set(f"{prefix}seen:mattermost:post:{post['id']}", "1")
        await peer.redeliver(post["id"])
        sentinel = await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 2)
        await app.dispatcher.join()
    assert seen(skills_pkg) == [first["id"], sentinel["id"]]


async def test_rate_limited_post_is_retried_after_retry_after(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg) as app:
        peer.fail("POST", r"/api/v4/posts$", count=1, retry_after="1")
        started = time.monotonic()
        await peer.post_as(alice, dm, "ping")
        answer = await peer.wait_for(lambda: peer.bot_posts(dm))
        elapsed = time.monotonic() - started
        adapter = app.adapters["mattermost"]
    assert [p["message"] for p in answer] == ["pong"]
    assert len(peer.calls_to("POST", r"/api/v4/posts$")) == 2  # one 429, one success
    assert elapsed >= 0.9 and adapter.outbox.waited >= 0.9


async def test_websocket_refused_at_start_is_a_clear_error(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    from bot.adapters.mattermost import MattermostStartupError

    peer.accepting_websockets = False
    app = make_app(peer, tmp_path, skills_pkg)
    with pytest.raises(MattermostStartupError, match="websocket") as err:
        await app.start()
    assert peer.token not in str(err.value) and "\n" not in str(err.value)


async def test_posts_made_while_the_bot_was_stopped_are_handled_after_restart(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        before = await peer.post_as(alice, town, "@quartermaster ping")
        await peer.wait_for(lambda: peer.bot_posts(town))
        await app.dispatcher.join()
    assert seen(skills_pkg) == [before["id"]]
    while_down = await peer.post_as(alice, town, "@quartermaster ping")
    async with make_app(peer, tmp_path, skills_pkg) as app:  # (skills are imported afresh)
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 2)
        await app.dispatcher.join()
        assert seen(skills_pkg) == [while_down["id"]]  # caught up; `before` not handled again
    # a stop longer ago than restart_catchup_minutes is not caught up
    await peer.post_as(alice, town, "@quartermaster ping")  # made while down, too long
    async with make_app(peer, tmp_path, skills_pkg, restart_catchup_minutes=0) as app:
        await asyncio.sleep(0.3)
        await app.dispatcher.join()
        assert seen(skills_pkg) == []
    assert len(peer.bot_posts(town)) == 2


# -- transient failures: 5xx and dropped connections --------------------------------------------
FAST_RETRY = {"retry_base_seconds": 0.01, "retry_max_seconds": 0.05}


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_on_a_post_is_retried_and_posts_once(
    peer: MattermostPeer,
    tmp_path: Path,
    skills_pkg: str,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg, **FAST_RETRY) as app:
        peer.fail("POST", r"/api/v4/posts$", count=2, status=status, html=status == 502)
        await peer.post_as(alice, dm, "ping")
        answer = await peer.wait_for(lambda: peer.bot_posts(dm))
        await app.dispatcher.join()
    assert [p["message"] for p in answer] == ["pong"]
    attempts = peer.calls_to("POST", r"/api/v4/posts$")
    assert len(attempts) == 3
    assert len({c.body["pending_post_id"] for c in attempts}) == 1  # the same post each time
    lines = retry_lines(caplog)
    assert len(lines) == 2 and "POST /posts" in lines[0] and f"HTTP {status}" in lines[0]
    assert all(peer.token not in r.getMessage() for r in caplog.records)


async def test_a_post_made_before_the_5xx_is_not_made_twice(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    """A proxy answers 502 (or drops the connection) after the server made the post: the retry
    carries the same pending_post_id, and the server answers with the post it already made."""
    from peers.mattermost_peer import DROP

    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg, **FAST_RETRY) as app:
        peer.fail("POST", r"/api/v4/posts$", status=502, after=True, html=True)
        await peer.post_as(alice, dm, "ping")
        await until(lambda: len(peer.calls_to("POST", r"/api/v4/posts$")) == 2)
        peer.fail("POST", r"/api/v4/posts$", status=DROP, after=True)
        await peer.post_as(alice, dm, "ping")
        await until(lambda: len(peer.calls_to("POST", r"/api/v4/posts$")) == 4)
        await app.dispatcher.join()
    assert [p["message"] for p in peer.bot_posts(dm)] == ["pong", "pong"]


async def test_reads_patches_and_deletes_are_retried(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    from peers.mattermost_peer import DROP

    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg, **FAST_RETRY) as app:
        adapter = app.adapters["mattermost"]
        peer.fail("GET", rf"/users/{alice}$", status=DROP)
        assert (await adapter.user_info(alice)).name == "Alice"
        ref = await adapter.send(town, "first")
        peer.fail("PUT", r"/patch$", status=503, count=2)
        await adapter.update(ref, "second")
        peer.fail("DELETE", rf"/posts/{ref.id}$", status=500)
        await adapter.delete(ref)
    assert peer.posts[ref.id]["message"] == "second" and peer.posts[ref.id]["delete_at"]
    assert len(peer.calls_to("GET", rf"/users/{alice}$")) == 2
    assert len(peer.calls_to("PUT", r"/patch$")) == 3
    assert len(peer.calls_to("DELETE", rf"/posts/{ref.id}$")) == 2


async def test_a_delete_whose_answer_was_lost_counts_as_done(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    """The first DELETE lands but answers 500; the retry finds the post gone (404): done."""
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg, **FAST_RETRY) as app:
        adapter = app.adapters["mattermost"]
        ref = await adapter.send(town, "short-lived")
        peer.fail("DELETE", rf"/posts/{ref.id}$", status=500, after=True)
        await adapter.delete(ref)
    assert peer.posts[ref.id]["delete_at"]
    assert len(peer.calls_to("DELETE", rf"/posts/{ref.id}$")) == 2  # 500, then 404


async def test_retries_are_bounded_and_other_errors_are_not_retried(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    from mattermostautodriver.exceptions import FeatureDisabled, UnknownMattermostError

    town = peer.add_channel("town-square", members=[peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg, retries=2, **FAST_RETRY) as app:
        adapter = app.adapters["mattermost"]
        peer.fail("POST", r"/api/v4/posts$", status=503, count=5)
        with pytest.raises(UnknownMattermostError):
            await adapter.send(town, "never")
        assert len(peer.calls_to("POST", r"/api/v4/posts$")) == 3
        peer.faults.clear()
        peer.fail("POST", r"/api/v4/posts$", status=501)  # not transient: no retry
        with pytest.raises(FeatureDisabled):
            await adapter.send(town, "never")
        assert len(peer.calls_to("POST", r"/api/v4/posts$")) == 4
    assert peer.bot_posts(town) == []


async def test_a_post_is_not_retried_once_the_server_may_have_forgotten_it(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the pending_post_id window a repeat could double the post: give up instead."""
    from mattermostautodriver.exceptions import UnknownMattermostError

    from bot.adapters.mattermost import outbound

    monkeypatch.setattr(outbound, "DEDUPE_WINDOW", 0.0)
    town = peer.add_channel("town-square", members=[peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg, **FAST_RETRY) as app:
        peer.fail("POST", r"/api/v4/posts$", status=504, after=True)
        with pytest.raises(UnknownMattermostError):
            await app.adapters["mattermost"].send(town, "slow")
    assert len(peer.calls_to("POST", r"/api/v4/posts$")) == 1
    assert [p["message"] for p in peer.bot_posts(town)] == ["slow"]
