"""The vault chat flow over a real platform adapter: Mattermost, against the local protocol peer.

Checks what only a real adapter shows: the DM channel the bot opens is the one the paste arrives
in, and a platform that refuses to delete someone else's post makes the bot say so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings

from bot.adapters.mattermost import MattermostAdapter
from bot.app import Application
from bot.config import Settings
from credentials.keys import ENV_VAR
from credentials.vault import VAULT

TOKEN = "gAAAAABl" + "Mm7Qw_9zX-" * 11
GH = "ghp_" + "Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8"


@pytest.fixture
async def peer(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[MattermostPeer]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    async with MattermostPeer() as p:
        yield p


def _texts(peer: MattermostPeer, channel: str) -> list[str]:
    return [p["message"] for p in peer.bot_posts(channel)]


async def test_store_via_dm_and_refuse_in_channel_over_mattermost(
    peer: MattermostPeer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    dm = peer.dm_channel(alice, peer.bot_id)
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", ["skills"])
    app = Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)
    async with app:
        await peer.post_as(alice, town, "@quartermaster store my openstack token")
        await peer.wait_for(
            lambda: (
                any("Paste your openstack" in t for t in _texts(peer, dm)) and _texts(peer, town)
            )
        )
        assert "direct message" in _texts(peer, town)[0]

        await peer.post_as(alice, dm, TOKEN)
        await peer.wait_for(lambda: any("Stored your `openstack`" in t for t in _texts(peer, dm)))
        secret = await app.services[VAULT].use(f"mattermost:{alice}", "openstack", skill="test")
        assert secret.reveal() == TOKEN

        leaked = await peer.post_as(alice, town, f"@quartermaster my token is {GH}")
        await peer.wait_for(lambda: any("revoke it now" in t for t in _texts(peer, dm)))
        warning = next(t for t in _texts(peer, dm) if "revoke it now" in t)
        assert "couldn't delete it, so please do" in warning  # the peer refuses, like MM
        assert peer.calls_to("DELETE", rf"/posts/{leaked['id']}$")
        assert len(_texts(peer, town)) == 1  # nothing said in the channel
        await app.dispatcher.join()
    sent = json.dumps([c.body for c in peer.calls], default=str)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for value in (TOKEN, GH):
        assert value not in sent and value not in logged
