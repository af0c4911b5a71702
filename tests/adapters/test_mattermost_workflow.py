"""A helpdesk request end to end on Mattermost: filed in a DM, a staff click refused, a manager's
click approves — through the real workflow skill, signed interactive buttons and the REST peer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings

from bot.adapters.mattermost import MattermostAdapter
from bot.app import Application
from bot.config import Settings


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


async def test_quota_request_needs_management_and_is_approved_by_button(
    peer: MattermostPeer, tmp_path: Path
) -> None:
    alice, sam, mary = (peer.add_user(n) for n in ("alice", "sam", "mary"))
    desk = peer.add_channel("helpdesk-storage", members=[sam, mary, peer.bot_id])
    dm = peer.dm_channel(alice, peer.bot_id)
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", ["skills"])
    raw["roles"] = {
        "grants": {"staff": [f"mattermost:{sam}"], "management": [f"mattermost:{mary}"]}
    }
    app = Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)

    def bot_said(channel: str) -> list[str]:
        return [p["message"] for p in peer.bot_posts(channel)]

    async with app:
        for n, text in enumerate(
            ["request quota 8TB", "/scratch/group/neuro", "simulation output", "yes"], start=1
        ):
            await peer.post_as(alice, dm, text)
            await peer.wait_for(lambda n=n: len(bot_said(dm)) >= n)
        card = (await peer.wait_for(lambda: peer.bot_posts(desk)))[0]
        assert "REQ-1" in card["message"] and "8 TB" in card["message"]
        assert "@mary" in card["message"] and "@alice" in card["message"]  # names, not ids

        refused = await peer.click(sam, card["id"], "Approve")
        assert refused.status == 200
        sam_dm = peer.dm_channel(sam, peer.bot_id)
        notice = await peer.wait_for(lambda: bot_said(sam_dm))
        assert "management" in notice[0]  # a private, reasoned refusal
        assert "waiting for approval" in peer.posts[card["id"]]["message"]

        assert (await peer.click(mary, card["id"], "Approve")).status == 200
        await peer.wait_for(lambda: "— approved" in peer.posts[card["id"]]["message"])
        await app.dispatcher.join()
        await app.background.idle()  # the DMs follow the answer
        assert peer.calls_to("PUT", rf"/posts/{card['id']}/patch$")
        assert any("approved by mary" in m for m in bot_said(dm))


async def test_forged_approval_as_a_manager_outside_the_channel_is_refused(
    peer: MattermostPeer, tmp_path: Path
) -> None:
    """The issue's scenario: staff in the channel POST the card's click as a manager."""
    alice, sam, mary = (peer.add_user(n) for n in ("alice", "sam", "mary"))
    desk = peer.add_channel("helpdesk-storage", members=[sam, peer.bot_id])
    dm = peer.dm_channel(alice, peer.bot_id)
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", ["skills"])
    raw["roles"] = {
        "grants": {"staff": [f"mattermost:{sam}"], "management": [f"mattermost:{mary}"]}
    }
    app = Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)
    async with app:
        for n, text in enumerate(
            ["request quota 8TB", "/scratch/group/neuro", "simulation output", "yes"], start=1
        ):
            await peer.post_as(alice, dm, text)
            await peer.wait_for(lambda n=n: len(peer.bot_posts(dm)) >= n)
        card = (await peer.wait_for(lambda: peer.bot_posts(desk)))[0]
        forged = await peer.click(sam, card["id"], "Approve", forge={"user_id": mary})
        assert forged.status == 403
        await app.dispatcher.join()
        await app.background.idle()
    assert "waiting for approval" in peer.posts[card["id"]]["message"]
