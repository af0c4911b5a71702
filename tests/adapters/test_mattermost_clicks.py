"""Mattermost button clicks bound to what the server guarantees (issue #13, point 5).

A click's body names its user, and Mattermost signs nothing: a forged POST once approved a
request as a manager. Clicks now go to the core only when the server confirms the user is a
member of the post's channel and the post (made by the bot, in that channel) offers the button;
a button expires; each click is used once per user.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings, write_skill_package

from bot.adapters.mattermost import MattermostAdapter, actions
from bot.app import Application
from bot.config import Settings

SKILL = """
from bot.events import Choice
from bot.skill import Skill

skill = Skill("mmclick", "exercises button clicks")
SEEN = []


@skill.command(r"^ask$")
async def ask(ctx):
    await ctx.reply("Approve REQ-42?", choices=[
        Choice("Approve", "mmclick.approve", "REQ-42", "primary")])


@skill.action("mmclick.approve")
async def approve(ctx):
    SEEN.append((ctx.interaction.value, ctx.user_id, ctx.user_name))
    await ctx.reply(f"approved by {ctx.user_name}")
"""


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


@pytest.fixture
def pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    return write_skill_package(root, f"mmclick_{uuid.uuid4().hex[:8]}", SKILL)


def seen(pkg: str) -> list[Any]:
    return sys.modules[f"{pkg}.mmtest"].SEEN  # type: ignore[no-any-return]


def make_app(peer: MattermostPeer, tmp_path: Path, pkg: str, **mattermost: Any) -> Application:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [pkg], **mattermost)
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


async def offer(peer: MattermostPeer, user: str, channel: str) -> dict[str, Any]:
    await peer.post_as(user, channel, "@quartermaster ask")
    return (await peer.wait_for(lambda: peer.bot_posts(channel)))[0]  # type: ignore[no-any-return]


async def test_forged_click_for_a_user_outside_the_channel_is_refused(
    peer: MattermostPeer, tmp_path: Path, pkg: str
) -> None:
    alice, mallory = peer.add_user("alice"), peer.add_user("mallory")
    outsider = peer.add_user("boss")
    town = peer.add_channel("town-square", members=[alice, mallory, peer.bot_id])
    async with make_app(peer, tmp_path, pkg) as app:
        post = await offer(peer, alice, town)
        for user_id in (outsider, "nosuchuser00000000000000000"):
            forged = await peer.click(mallory, post["id"], "Approve", forge={"user_id": user_id})
            assert forged.status == 403
            assert "members of this channel" in forged.body["ephemeral_text"]
        # the genuine context on someone else's post in the same channel
        decoy = await peer.post_as(mallory, town, "hello")
        peer.posts[decoy["id"]]["props"] = post["props"]
        assert (await peer.click(mallory, decoy["id"], "Approve")).status == 403
        assert (await peer.click(alice, post["id"], "Approve")).status == 200
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 2)
        await app.dispatcher.join()
    assert seen(pkg) == [("REQ-42", alice, "alice")]


async def test_forged_click_cannot_take_another_users_name(
    peer: MattermostPeer, tmp_path: Path, pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, pkg) as app:
        post = await offer(peer, alice, town)
        clicked = await peer.click(alice, post["id"], "Approve", forge={"user_name": "boss"})
        assert clicked.status == 200
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 2)
        await app.dispatcher.join()
    assert seen(pkg) == [("REQ-42", alice, "alice")]  # the server's name, not the body's


async def test_a_replayed_click_is_refused(peer: MattermostPeer, tmp_path: Path, pkg: str) -> None:
    alice, bob = peer.add_user("alice"), peer.add_user("bob")
    town = peer.add_channel("town-square", members=[alice, bob, peer.bot_id])
    async with make_app(peer, tmp_path, pkg) as app:
        post = await offer(peer, alice, town)
        assert (await peer.click(alice, post["id"], "Approve")).status == 200
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 2)
        replay = await peer.click(alice, post["id"], "Approve")
        assert "already used" in replay.body["ephemeral_text"]
        assert (await peer.click(bob, post["id"], "Approve")).status == 200  # another member
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 3)
        await app.dispatcher.join()
    assert [who for _, who, _ in seen(pkg)] == [alice, bob]


async def test_an_expired_button_says_where_to_look(
    peer: MattermostPeer, tmp_path: Path, pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, pkg, action_expiry_days=1) as app:
        post = await offer(peer, alice, town)
        later = datetime.now(UTC) + timedelta(days=1, hours=1)
        app.kv.clock = lambda: later
        expired = await peer.click(alice, post["id"], "Approve")
        assert expired.status == 200
        assert expired.body["ephemeral_text"] == (
            "This button has expired; say `status of REQ-42` for the current state."
        )
        # a button signed before contexts carried a time counts as expired, not as forged
        context = post["props"]["attachments"][0]["actions"][0]["integration"]["context"]
        old = {k: context[k] for k in ("action", "value", "thread")}
        secret = app.adapters["mattermost"]._secret  # type: ignore[attr-defined]
        old["sig"] = actions.signature(secret, town, old["action"], old["value"], old["thread"])
        app.kv.clock = lambda: datetime.now(UTC)
        stale = await peer.click(alice, post["id"], "Approve", context=old)
        assert "expired" in stale.body["ephemeral_text"]
        await app.dispatcher.join()
    assert seen(pkg) == []
