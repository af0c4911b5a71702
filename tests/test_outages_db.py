"""The database stalls or refuses mid-run: turns answer one clear sentence within the time-out,
``/healthz`` says 503 while it lasts, and the bot works again once the database is back.

A real TCP proxy on 127.0.0.1 sits between the bot and PostgreSQL; the test pauses it (every
byte held, as a stalled server or a dead network path), resumes it, and closes it (refused).
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings, write_skill_package
from peers.tcp_proxy import PausableProxy

from bot.adapters.mattermost import MattermostAdapter
from bot.app import Application
from bot.config import Settings
from bot.errors import DatabaseNotAnswering

pytestmark = pytest.mark.postgres

SKILL = """
from bot.skill import Skill

skill = Skill("mmtest", "writes to the database")


@skill.command(r"^remember (?P<what>\\w+)$")
async def remember(ctx):
    await ctx.app.kv.set("outage-test", "last", ctx.match.group("what"))
    await ctx.reply("noted " + await ctx.app.kv.get("outage-test", "last"))
"""


@pytest.fixture
async def proxy(pg_url: str) -> AsyncIterator[tuple[PausableProxy, str]]:
    """The test database's URL, through a proxy the test controls."""
    parts = urlsplit(pg_url)
    assert parts.hostname is not None and parts.port is not None
    proxy = PausableProxy(parts.hostname, parts.port)
    port = await proxy.start()
    try:
        yield proxy, f"postgres://postgres@127.0.0.1:{port}{parts.path}"
    finally:
        proxy.resume()
        await proxy.close()


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


@pytest.fixture
def skills_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    name = write_skill_package(root, f"dbout_{uuid.uuid4().hex[:8]}", SKILL)
    yield name
    for module in [m for m in sys.modules if m.startswith(name)]:
        del sys.modules[module]


def make_app(peer: MattermostPeer, url: str, pkg: str) -> Application:
    raw: dict[str, Any] = bot_settings(peer, url, [pkg])
    raw["database"]["timeout_seconds"] = 1
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


async def health(app: Application) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{app.http.port}/healthz"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(url) as response,
    ):
        return response.status, await response.json()


async def ask(peer: MattermostPeer, user: str, channel: str, text: str) -> str:
    """Post ``text`` and return the bot's answer (generous bound: it is not a timing test)."""
    before = len(peer.bot_posts(channel))
    await peer.post_as(user, channel, text)
    await peer.wait_for(lambda: len(peer.bot_posts(channel)) > before, timeout=30)
    return str(peer.bot_posts(channel)[before]["message"])


async def test_a_stalled_database_is_said_and_healthz_fails_until_it_is_back(
    peer: MattermostPeer, proxy: tuple[PausableProxy, str], skills_pkg: str
) -> None:
    tcp, url = proxy
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, url, skills_pkg) as app:
        assert await ask(peer, alice, dm, "remember apples") == "noted apples"
        assert (await health(app))[0] == 200

        tcp.pause()
        assert await ask(peer, alice, dm, "remember pears") == DatabaseNotAnswering.USER_MESSAGE
        status, body = await health(app)
        assert status == 503 and body["database"] is False

        tcp.resume()
        assert await ask(peer, alice, dm, "remember plums") == "noted plums"
        assert (await health(app))[0] == 200
        await app.dispatcher.join()


async def test_a_refused_connection_gets_the_same_sentence(
    peer: MattermostPeer, proxy: tuple[PausableProxy, str], skills_pkg: str
) -> None:
    tcp, url = proxy
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, url, skills_pkg) as app:
        assert await ask(peer, alice, dm, "remember apples") == "noted apples"
        await tcp.close()  # connections cut, new ones refused
        assert await ask(peer, alice, dm, "remember pears") == DatabaseNotAnswering.USER_MESSAGE
        assert await ask(peer, alice, dm, "remember plums") == DatabaseNotAnswering.USER_MESSAGE
        assert (await health(app))[0] == 503
        with contextlib.suppress(Exception):
            await app.dispatcher.join()
