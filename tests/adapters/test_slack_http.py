"""The Slack adapter in HTTP Events API mode: signed requests to the bot's own aiohttp server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.slack_peer import SlackPeer, post_signed, settings_for, write_skill_package

from bot.adapters.slack import SlackAdapter
from bot.app import Application

SECRET = "peer-signing-secret-0123456789"
DM = "DALICE"


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    yield p
    await p.close()


@pytest.fixture
async def bot(
    peer: SlackPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Application]:
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = settings_for(
        peer,
        tmp_path,
        write_skill_package(tmp_path),
        slack={"mode": "http", "app_token": None, "signing_secret": SECRET},
        http={"enabled": True, "host": "127.0.0.1", "port": 0},
    )
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        yield app


def url(app: Application, path: str = "/slack/events") -> str:
    return f"http://127.0.0.1:{app.http.port}{path}"


async def test_url_verification_is_answered_with_the_challenge(bot: Application) -> None:
    status, body = await post_signed(
        url(bot), {"token": "x", "challenge": "c-123", "type": "url_verification"}, secret=SECRET
    )
    assert status == 200
    assert "c-123" in body


async def test_a_bad_signature_is_rejected(peer: SlackPeer, bot: Application) -> None:
    event = peer.event_callback(peer.message_event(peer.message("UALICE", "ping", DM), DM))
    status, _ = await post_signed(url(bot), event, secret=SECRET, signature="v0=" + "0" * 64)
    assert status == 401
    status, _ = await post_signed(url(bot), event, secret="not-the-secret")
    assert status == 401
    await asyncio.sleep(0.2)
    assert peer.posted == []


async def test_a_stale_timestamp_is_rejected(peer: SlackPeer, bot: Application) -> None:
    event = peer.event_callback(peer.message_event(peer.message("UALICE", "ping", DM), DM))
    status, _ = await post_signed(
        url(bot), event, secret=SECRET, timestamp=int(time.time()) - 6 * 60
    )
    assert status == 401
    await asyncio.sleep(0.2)
    assert peer.posted == []


async def test_signed_event_is_answered_once_despite_a_retry(
    peer: SlackPeer, bot: Application
) -> None:
    event = peer.event_callback(peer.message_event(peer.message("UALICE", "ping", DM), DM))
    status, _ = await post_signed(url(bot), event, secret=SECRET)
    assert status == 200
    status, _ = await post_signed(url(bot), event, secret=SECRET, retry_num=1)
    assert status == 200
    await peer.wait_posted(1)
    await asyncio.sleep(0.3)
    assert [(p.channel, p.text) for p in peer.posted] == [(DM, "pong")]


async def test_interactive_payload_is_form_encoded_and_runs_the_action(
    peer: SlackPeer, bot: Application
) -> None:
    event = peer.event_callback(peer.message_event(peer.message("UALICE", "approve me", DM), DM))
    await post_signed(url(bot), event, secret=SECRET)
    (question,) = await peer.wait_posted(1)
    payload = peer.block_actions("USAM", question, "Deny")
    status, _ = await post_signed(
        url(bot, "/slack/interactions"), payload, secret=SECRET, form=True
    )
    assert status == 200
    await peer.wait_posted(2)
    assert peer.posted[1].text == "denied REQ-1"
    assert json.loads(question.buttons[1]["value"]) == {"a": "slacktest.deny", "v": "REQ-1"}


async def test_a_click_not_signed_by_slack_is_refused(peer: SlackPeer, bot: Application) -> None:
    """Why Slack needs no extra binding of clicks (docs/slack.md): the user id of a click is in
    the body Slack signs, so a forged click naming someone else never reaches the core."""
    event = peer.event_callback(peer.message_event(peer.message("UALICE", "approve me", DM), DM))
    await post_signed(url(bot), event, secret=SECRET)
    (question,) = await peer.wait_posted(1)
    payload = peer.block_actions("USAM", question, "Deny")
    forged, _ = await post_signed(
        url(bot, "/slack/interactions"), payload, secret="guessed-secret", form=True
    )
    stale, _ = await post_signed(
        url(bot, "/slack/interactions"),
        payload,
        secret=SECRET,
        form=True,
        timestamp=int(time.time()) - 600,
    )
    assert (forged, stale) == (401, 401)
    await bot.dispatcher.join()
    assert len(peer.posted) == 1
