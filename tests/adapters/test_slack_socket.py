"""The Slack adapter in Socket Mode against the local peer: real slack-bolt, real sockets."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.slack_peer import SlackPeer, settings_for, write_skill_package

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.retry import api_method
from bot.app import Application

CHANNEL = "CGENERAL"
DM = "DALICE"


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    yield p
    await p.close()


@pytest.fixture
def skills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    return write_skill_package(tmp_path)


@pytest.fixture
async def bot(peer: SlackPeer, skills: str, tmp_path: Path) -> AsyncIterator[Application]:
    app = Application(settings_for(peer, tmp_path, skills), adapters=[SlackAdapter], load_nlu=False)
    async with app:
        await peer.wait_connections(1)
        yield app


async def settle(peer: SlackPeer, envelopes: list[str]) -> None:
    """Every envelope acked, and a moment for anything that should not happen to happen."""
    for envelope in envelopes:
        await peer.wait_ack(envelope)
    await asyncio.sleep(0.2)


async def test_channel_mention_is_answered_once_in_its_thread(
    peer: SlackPeer, bot: Application
) -> None:
    ts, envelopes = await peer.say("UALICE", "<@UBOT> ping", CHANNEL)
    assert len(envelopes) == 2  # app_mention and message.channels
    await peer.wait_posted(1)
    await settle(peer, envelopes)
    assert [(p.channel, p.thread_ts, p.text) for p in peer.posted] == [(CHANNEL, ts, "pong")]


async def test_direct_message_is_answered_in_the_dm(peer: SlackPeer, bot: Application) -> None:
    _, envelopes = await peer.say("UALICE", "ping", DM)
    await peer.wait_posted(1)
    await settle(peer, envelopes)
    assert [(p.channel, p.thread_ts, p.text) for p in peer.posted] == [(DM, None, "pong")]


async def test_thread_reply_is_answered_with_the_parents_ts(
    peer: SlackPeer, bot: Application
) -> None:
    parent, _ = await peer.say("UALICE", "<@UBOT> ping", CHANNEL)
    await peer.wait_posted(1)
    reply, envelopes = await peer.say("UALICE", "<@UBOT> echo again", CHANNEL, thread_ts=parent)
    await peer.wait_posted(2)
    await settle(peer, envelopes)
    answer = peer.posted[1]
    assert (answer.text, answer.thread_ts) == ("echo: again", parent)
    assert reply != parent


async def test_a_follow_up_in_the_thread_needs_no_mention(
    peer: SlackPeer, bot: Application
) -> None:
    parent, _ = await peer.say("UALICE", "<@UBOT> ask my name", CHANNEL)
    await peer.wait_posted(1)
    _, envelopes = await peer.say("UALICE", "Alice", CHANNEL, thread_ts=parent)
    await peer.wait_posted(2)
    await settle(peer, envelopes)
    assert [(p.text, p.thread_ts) for p in peer.posted] == [
        ("What is your name?", parent),
        ("hello Alice", parent),
    ]


async def test_unmentioned_channel_chatter_is_acked_and_ignored(
    peer: SlackPeer, bot: Application
) -> None:
    _, envelopes = await peer.say("UALICE", "ping", CHANNEL)
    await settle(peer, envelopes)
    assert peer.posted == []


async def test_an_edit_arrives_as_an_edited_message(peer: SlackPeer, bot: Application) -> None:
    ts, _ = await peer.say("UALICE", "echo one", DM)
    await peer.wait_posted(1)
    envelope = await peer.send_envelope(
        "events_api", peer.event_callback(peer.edit_event(DM, ts, "echo two"))
    )
    await peer.wait_posted(2)
    await settle(peer, [envelope])
    assert [p.text for p in peer.posted] == ["echo: one", "echo: two (edited)"]


async def test_changes_without_new_text_are_acked_not_handled(
    peer: SlackPeer, bot: Application
) -> None:
    """Slack sends message_changed for unfurls and new thread replies, too."""
    message = peer.message("UALICE", "echo same", DM)
    event = {
        "type": "message",
        "subtype": "message_changed",
        "hidden": True,
        "channel": DM,
        "channel_type": "im",
        "ts": peer.next_ts(),
        "message": dict(message, attachments=[{"title": "unfurl"}]),
        "previous_message": message,
    }
    envelope = await peer.send_envelope("events_api", peer.event_callback(event))
    await settle(peer, [envelope])
    assert peer.posted == []


async def test_own_and_other_bots_messages_are_ignored(peer: SlackPeer, bot: Application) -> None:
    own = peer.message("UBOT", "ping", DM, bot_id="BBOT")
    other = peer.message("UOTHER", "ping", DM, bot_id="BOTHER")
    envelopes = [
        await peer.send_envelope("events_api", peer.event_callback(peer.message_event(m, DM)))
        for m in (own, other)
    ]
    await settle(peer, envelopes)
    assert peer.posted == []


async def test_other_bots_are_heard_when_configured(
    peer: SlackPeer, skills: str, tmp_path: Path
) -> None:
    settings = settings_for(peer, tmp_path, skills, slack={"ignore_bots": False})
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False):
        await peer.wait_connections(1)
        other = peer.message("UOTHER", "ping", DM, bot_id="BOTHER")
        own = peer.message("UBOT", "ping", DM, bot_id="BBOT")
        envelopes = [
            await peer.send_envelope("events_api", peer.event_callback(peer.message_event(m, DM)))
            for m in (other, own)
        ]
        await peer.wait_posted(1)
        await settle(peer, envelopes)
    assert [p.text for p in peer.posted] == ["pong"]


async def test_listen_channels_are_read_without_a_mention(
    peer: SlackPeer, skills: str, tmp_path: Path
) -> None:
    settings = settings_for(peer, tmp_path, skills, slack={"listen_channels": ["CHELP"]})
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False):
        await peer.wait_connections(1)
        ts, _ = await peer.say("UALICE", "ping", "CHELP")
        _, quiet = await peer.say("UALICE", "ping", CHANNEL)
        await peer.wait_posted(1)
        await settle(peer, quiet)
    assert [(p.channel, p.thread_ts) for p in peer.posted] == [("CHELP", ts)]


async def test_button_click_runs_the_skills_action(peer: SlackPeer, bot: Application) -> None:
    ts, _ = await peer.say("UALICE", "<@UBOT> approve me", CHANNEL)
    (question,) = await peer.wait_posted(1)
    ids = [b["action_id"] for b in question.buttons]
    assert [b["text"]["text"] for b in question.buttons] == ["Approve", "Deny"]
    assert len(set(ids)) == len(ids)
    assert [b.get("style") for b in question.buttons] == ["primary", "danger"]
    loop = asyncio.get_running_loop()
    started = loop.time()
    envelope = await peer.click("USAM", question, "Approve")
    await peer.wait_ack(envelope)
    assert loop.time() - started < 3.0
    await peer.wait_posted(2)
    answer = peer.posted[1]
    assert (answer.text, answer.channel, answer.thread_ts) == ("approved REQ-1 by sam", CHANNEL, ts)


async def test_update_and_delete_of_posted_messages(peer: SlackPeer, bot: Application) -> None:
    await peer.say("UALICE", "revise", DM)
    await peer.wait_for(lambda: len(peer.posted) == 2 and peer.posted[1].deleted)
    draft, temporary = peer.posted
    assert (draft.text, draft.edits) == ("final", ["draft"])
    assert temporary.deleted


async def test_dm_opens_the_conversation_and_user_info_is_cached(
    peer: SlackPeer, bot: Application
) -> None:
    await peer.say("UALICE", "<@UBOT> dm me", CHANNEL)
    (dm,) = await peer.wait_posted(1)
    assert (dm.channel, dm.text) == ("DALICE", "a private word")
    assert peer.calls_of("conversations.open")[0].args["users"] == "UALICE"
    await peer.say("UALICE", "whois", DM)
    await peer.say("UALICE", "whois", DM)
    posted = await peer.wait_posted(3)
    assert posted[1].text == "alice &lt;alice@example.org&gt; <@UALICE>"
    assert len(peer.calls_of("users.info")) == 1


async def test_dropped_socket_reconnects_and_nothing_is_handled_twice(
    peer: SlackPeer, bot: Application
) -> None:
    _, envelopes = await peer.say("UALICE", "echo before", DM)
    await peer.wait_posted(1)
    await settle(peer, envelopes)
    await peer.drop_socket(abrupt=True)
    await peer.wait_connections(2)
    # Slack re-sends what it believes was not acked; the bot must not answer again
    await peer.resend(envelopes[0])
    _, after = await peer.say("UALICE", "echo after", DM)
    await peer.wait_posted(2)
    await settle(peer, [*after, envelopes[0]])
    assert [p.text for p in peer.posted] == ["echo: before", "echo: after"]
    assert peer.sent[envelopes[0]]["retry_attempt"] == 1
    assert bot.adapters["slack"].connected


async def test_close_frame_reconnects_with_a_fresh_url(peer: SlackPeer, bot: Application) -> None:
    await peer.drop_socket()
    await peer.wait_connections(2)
    assert len(peer.calls_of("apps.connections.open")) == 2
    _, envelopes = await peer.say("UALICE", "ping", DM)
    await peer.wait_posted(1)
    await settle(peer, envelopes)
    assert [p.text for p in peer.posted] == ["pong"]


async def test_reconnect_attempts_back_off_exponentially(peer: SlackPeer, bot: Application) -> None:
    peer.fail("apps.connections.open", times=3)
    await peer.drop_socket()
    await peer.wait_connections(2, timeout=10)
    opens = [c for c in peer.calls_of("apps.connections.open")][1:]
    assert [c.status for c in opens] == [503, 503, 503, 200]
    gaps = [b.at - a.at for a, b in itertools.pairwise(opens)]
    # reconnect_base 0.05: waits drawn from [0.05, 0.1], [0.1, 0.2], [0.2, 0.4] (full jitter)
    assert gaps[0] >= 0.05 and gaps[2] >= 0.2
    assert gaps[2] > gaps[0]
    _, envelopes = await peer.say("UALICE", "ping", DM)
    await peer.wait_posted(1)
    await settle(peer, envelopes)


async def test_posts_to_one_channel_are_paced(peer: SlackPeer, skills: str, tmp_path: Path) -> None:
    settings = settings_for(peer, tmp_path, skills, slack={"pace_seconds": 0.3})
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False):
        await peer.wait_connections(1)
        await peer.say("UALICE", "revise", DM)
        await peer.wait_for(lambda: len(peer.posted) == 2 and peer.posted[1].deleted)
    calls = [c for c in peer.calls if c.method.startswith("chat.")]
    assert [c.method for c in calls] == [
        "chat.postMessage",
        "chat.update",
        "chat.postMessage",
        "chat.delete",
    ]
    assert all(b.at - a.at >= 0.29 for a, b in itertools.pairwise(calls))


async def test_a_429_is_waited_out(peer: SlackPeer, bot: Application) -> None:
    peer.rate_limit("chat.postMessage", times=1, retry_after=1)
    await peer.say("UALICE", "ping", DM)
    (answer,) = await peer.wait_posted(1, timeout=6)
    first, second = peer.calls_of("chat.postMessage")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 1.0
    assert answer.text == "pong"


# -- server errors: what is repeated, and that a repeat whose first attempt landed doubles nothing
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
    peer: SlackPeer, bot: Application, status: int
) -> None:
    """The message may already be in the channel: repeating it would answer twice. The
    handler sees the error, so the user also gets the usual apology (one more post)."""
    peer.fail("chat.postMessage", status=status, after=True)
    await peer.say("UALICE", "ping", DM)
    await peer.wait_posted(2)
    await asyncio.sleep(2.0)  # longer than the first back-off step
    assert [c.status for c in peer.calls_of("chat.postMessage")] == [status, 200]
    first, second = peer.posted
    assert first.text == "pong" and "something went wrong" in second.text


async def test_edits_and_deletes_are_repeated_and_a_lost_delete_answer_is_harmless(
    peer: SlackPeer, bot: Application
) -> None:
    peer.fail("chat.update", times=2, status=502)
    peer.fail("chat.delete", status=504, after=True)  # deleted, but the answer is lost
    await peer.say("UALICE", "revise", DM)
    await peer.wait_for(lambda: len(peer.calls_of("chat.delete")) == 2, timeout=10)
    assert [c.status for c in peer.calls_of("chat.update")] == [502, 502, 200]
    deletes = peer.calls_of("chat.delete")
    assert [(c.status, c.error) for c in deletes] == [
        (504, "internal_error"),
        (200, "message_not_found"),
    ]
    assert [(p.text, p.deleted) for p in peer.posted] == [("final", False), ("temporary", True)]
    await peer.say("UALICE", "ping", DM)  # no error reply, still answering
    await peer.wait_posted(3)
    assert [p.text for p in peer.posted][2:] == ["pong"]


async def test_repeats_stop_after_three(peer: SlackPeer, bot: Application) -> None:
    peer.fail("chat.update", times=10, status=503)
    await peer.say("UALICE", "revise", DM)
    await peer.wait_for(lambda: len(peer.calls_of("chat.update")) == 4, timeout=12)
    await peer.wait_posted(2, timeout=5)  # the draft and the apology
    await asyncio.sleep(0.5)
    assert len(peer.calls_of("chat.update")) == 4
    assert [p.text for p in peer.posted][:1] == ["draft"] and len(peer.posted) == 2
    assert "something went wrong" in peer.posted[-1].text
