"""Slack Web API server errors against the local peer: what is repeated, what is not, and that a
repeated call whose first attempt landed does not double anything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.slack_peer import SlackPeer, settings_for, write_skill_package

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack_retry import api_method
from bot.app import Application

DM = "DALICE"


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    yield p
    await p.close()


@pytest.fixture
async def bot(peer: SlackPeer, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Application]:
    monkeypatch.syspath_prepend(str(tmp_path))
    skills = write_skill_package(tmp_path)
    app = Application(settings_for(peer, tmp_path, skills), adapters=[SlackAdapter],
                      load_nlu=False)
    async with app:
        await peer.wait_connections(1)
        yield app


def test_api_method_is_the_last_path_segment() -> None:
    assert api_method("http://127.0.0.1:5/api/chat.postMessage") == "chat.postMessage"
    assert api_method("https://slack.com/api/users.info?user=U1") == "users.info"
    assert api_method("https://slack.com/api/chat.delete/") == "chat.delete"


async def test_a_post_refused_with_503_is_repeated(peer: SlackPeer, bot: Application) -> None:
    peer.fail("chat.postMessage", times=2, status=503)
    await peer.say("UALICE", "ping", DM)
    (answer,) = await peer.wait_posted(1, timeout=10)
    assert [c.status for c in peer.calls_of("chat.postMessage")] == [503, 503, 200]
    assert answer.text == "pong"


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_a_post_is_not_repeated_after_an_ambiguous_error(
        peer: SlackPeer, bot: Application, status: int) -> None:
    """The message may already be in the channel: repeating it would answer twice. The
    handler sees the error, so the user also gets the usual apology (one more post)."""
    peer.fail("chat.postMessage", status=status, after=True)
    await peer.say("UALICE", "ping", DM)
    await peer.wait_posted(2)
    await asyncio.sleep(2.0)                       # longer than the first back-off step
    assert [c.status for c in peer.calls_of("chat.postMessage")] == [status, 200]
    first, second = peer.posted
    assert first.text == "pong" and "something went wrong" in second.text


async def test_edits_and_deletes_are_repeated_and_a_lost_delete_answer_is_harmless(
        peer: SlackPeer, bot: Application) -> None:
    peer.fail("chat.update", times=2, status=502)
    peer.fail("chat.delete", status=504, after=True)     # deleted, but the answer is lost
    await peer.say("UALICE", "revise", DM)
    await peer.wait_for(lambda: len(peer.calls_of("chat.delete")) == 2, timeout=10)
    assert [c.status for c in peer.calls_of("chat.update")] == [502, 502, 200]
    deletes = peer.calls_of("chat.delete")
    assert [(c.status, c.error) for c in deletes] == [(504, "internal_error"),
                                                      (200, "message_not_found")]
    assert [(p.text, p.deleted) for p in peer.posted] == [("final", False),
                                                          ("temporary", True)]
    await peer.say("UALICE", "ping", DM)                 # no error reply, still answering
    await peer.wait_posted(3)
    assert [p.text for p in peer.posted][2:] == ["pong"]


async def test_repeats_stop_after_three(peer: SlackPeer, bot: Application) -> None:
    peer.fail("chat.update", times=10, status=503)
    await peer.say("UALICE", "revise", DM)
    await peer.wait_for(lambda: len(peer.calls_of("chat.update")) == 4, timeout=12)
    await peer.wait_posted(2, timeout=5)              # the draft and the apology
    await asyncio.sleep(0.5)
    assert len(peer.calls_of("chat.update")) == 4
    assert [p.text for p in peer.posted][:1] == ["draft"] and len(peer.posted) == 2
    assert "something went wrong" in peer.posted[-1].text
