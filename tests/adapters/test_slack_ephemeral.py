"""Private replies on Slack: ephemeral in a channel, a DM when Slack cannot show one, a DM in a DM.

The real slack-bolt client, the real skills (workflow buttons, the vault's channel guard) and the
Slack protocol peer, whose ``chat.postEphemeral`` answers like Slack's, errors included.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from peers.slack_peer import SlackPeer, settings_for

from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.events import private_thread
from bot.app import Application
from bot.events import Interaction, Message
from credentials.keys import ENV_VAR, generate

CHANNEL = "CGENERAL"
GH = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"  # looks like a GitHub token

SKILL_SOURCE = '''
"""Private replies for the Slack ephemeral tests."""
from bot.skill import Skill

skill = Skill("ephtest", "exercises private replies")


@skill.command(r"launch", role="admin", help="launch — admins only")
async def launch(ctx):
    await ctx.reply("launched")


@skill.command(r"whisper")
async def whisper(ctx):
    ref = await ctx.reply_private("only you can see this")
    await ctx.adapter.update(ref, "edited")       # Slack cannot: a no-op, not an API error
    await ctx.adapter.delete(ref)
    await ctx.reply(f"whispered ephemeral={ref.ephemeral}")
'''


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    p.add_user("UMARY", "mary")
    yield p
    await p.close()


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = f"ephtest_{tmp_path.name.replace('-', '_')}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "ephtest.py").write_text(SKILL_SOURCE)
    return name


@pytest.fixture
async def bot(peer: SlackPeer, package: str, tmp_path: Path) -> AsyncIterator[Application]:
    settings = settings_for(peer, tmp_path, package, roles={"grants": {"admin": ["slack:UMARY"]}})
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        await peer.wait_connections(1)
        yield app


async def handled(app: Application, envelopes: list[str], peer: SlackPeer) -> None:
    """Every envelope acked and every event it queued handled."""
    for envelope in envelopes:
        await peer.wait_ack(envelope)
    await app.dispatcher.join()


def where(peer: SlackPeer) -> list[tuple[str, str, str | None, str]]:
    return [(e.channel, e.user, e.thread_ts, e.text) for e in peer.ephemeral]


async def test_a_refusal_in_a_channel_is_ephemeral_to_the_asker(
    peer: SlackPeer, bot: Application
) -> None:
    _, envelopes = await peer.say("UALICE", "<@UBOT> launch", CHANNEL)
    await peer.wait_ephemeral(1)
    await handled(bot, envelopes, peer)
    [(channel, user, thread, text)] = where(peer)
    assert (channel, user, thread) == (CHANNEL, "UALICE", None)  # in the channel, not a thread
    assert "needs the admin role" in text
    assert peer.posted == []  # nothing public, no DM
    assert peer.calls_of("conversations.open") == []


async def test_in_a_thread_the_ephemeral_reply_goes_to_that_thread(
    peer: SlackPeer, bot: Application
) -> None:
    parent, _ = await peer.say("USAM", "anyone around?", CHANNEL)
    _, envelopes = await peer.say("UALICE", "<@UBOT> launch", CHANNEL, thread_ts=parent)
    await peer.wait_ephemeral(1)
    await handled(bot, envelopes, peer)
    assert [(c, u, t) for c, u, t, _ in where(peer)] == [(CHANNEL, "UALICE", parent)]
    assert peer.posted == []


async def test_the_ephemeral_ref_is_never_updated_or_deleted(
    peer: SlackPeer, bot: Application
) -> None:
    ts, envelopes = await peer.say("UALICE", "<@UBOT> whisper", CHANNEL)
    await peer.wait_posted(1)
    await handled(bot, envelopes, peer)
    assert where(peer) == [(CHANNEL, "UALICE", None, "only you can see this")]
    assert [(p.channel, p.thread_ts, p.text) for p in peer.posted] == [
        (CHANNEL, ts, "whispered ephemeral=True")
    ]
    assert peer.calls_of("chat.update") == [] and peer.calls_of("chat.delete") == []


@pytest.mark.parametrize("error", ["user_not_in_channel", "not_in_channel", "channel_not_found"])
async def test_where_slack_cannot_show_it_the_private_reply_is_a_dm(
    peer: SlackPeer, bot: Application, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    if error == "user_not_in_channel":
        peer.set_members(CHANNEL, "USAM")  # alice left the channel
    elif error == "not_in_channel":
        peer.set_members(CHANNEL, "UALICE", bot=False)  # the bot was removed
    else:
        peer.forget_channel(CHANNEL)  # e.g. a private channel it cannot see
    caplog.set_level(logging.INFO, logger="bot.adapters.slack")
    _, envelopes = await peer.say("UALICE", "<@UBOT> launch", CHANNEL)
    await peer.wait_posted(1)
    await handled(bot, envelopes, peer)
    assert [c.error for c in peer.calls_of("chat.postEphemeral")] == [error]
    assert peer.ephemeral == []
    [dm] = peer.posted
    assert dm.channel == "DALICE" and "needs the admin role" in dm.text
    why = [r.getMessage() for r in caplog.records if "chat.postEphemeral" in r.getMessage()]
    assert len(why) == 1 and error in why[0] and "DM" in why[0]


async def test_in_a_dm_a_private_reply_is_the_ordinary_dm_reply(
    peer: SlackPeer, bot: Application
) -> None:
    _, envelopes = await peer.say("UALICE", "launch", "DALICE")
    await peer.wait_posted(1)
    await handled(bot, envelopes, peer)
    assert [(p.channel, p.thread_ts) for p in peer.posted] == [("DALICE", None)]
    assert "needs the admin role" in peer.posted[0].text
    assert peer.calls_of("chat.postEphemeral") == []


async def test_an_unauthorised_button_click_gets_an_ephemeral_reason(
    peer: SlackPeer, tmp_path: Path
) -> None:
    settings = settings_for(
        peer,
        tmp_path,
        "skills",
        roles={"grants": {"staff": ["slack:USAM"], "management": ["slack:UMARY"]}},
    )
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        await peer.wait_connections(1)
        for text in ("request quota 3TB", "/scratch/group/neuro", "training data"):
            before = len(peer.posted)
            await peer.say("UALICE", text, "DALICE")
            await peer.wait_posted(before + 1)
        await peer.say("UALICE", "yes", "DALICE")
        await peer.wait_for(lambda: any(p.channel == "helpdesk-storage" for p in peer.posted))
        await app.dispatcher.join()
        await app.background.idle()  # the approvers' "new request" DMs are out too
        card = next(p for p in peer.posted if p.channel == "helpdesk-storage")
        posted_before = len(peer.posted)

        envelope = await peer.click("UALICE", card, "Approve")  # the requester: not allowed
        await peer.wait_ack(envelope)
        await peer.wait_ephemeral(1)
        await app.dispatcher.join()
        [(channel, user, thread, text)] = where(peer)
        assert (channel, user, thread) == ("helpdesk-storage", "UALICE", None)
        assert text.startswith("You can't approve REQ-1")
        assert len(peer.posted) == posted_before  # nothing in the card's thread, no DM
        assert peer.calls_of("chat.update") == []  # the card is unchanged


async def test_a_secret_pasted_in_a_channel_is_warned_about_ephemerally(
    peer: SlackPeer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, generate().encoded())
    settings = settings_for(peer, tmp_path, "skills")
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        await peer.wait_connections(1)
        _, envelopes = await peer.say("UALICE", f"<@UBOT> here is my token {GH}", CHANNEL)
        await peer.wait_ephemeral(1)
        await handled(app, envelopes, peer)
    [(channel, user, thread, text)] = where(peer)
    assert (channel, user, thread) == (CHANNEL, "UALICE", None)
    assert "revoke it" in text and GH not in text
    assert peer.posted == []  # nothing in the channel, no DM
    sent: list[Any] = [c.args for c in peer.calls if c.method.startswith("chat.")]
    assert all(GH not in str(args) for args in sent)


def test_the_private_thread_is_the_originals_thread_only() -> None:
    top = Message("slack", "U1", "u", "C1", "hi", thread="1.0", id="1.0")
    reply = Message("slack", "U1", "u", "C1", "hi", thread="1.0", id="2.0")
    click = Interaction("slack", "U1", "u", "C1", "a", message_id="3.0", thread="3.0")
    threaded_click = Interaction("slack", "U1", "u", "C1", "a", message_id="4.0", thread="1.0")
    assert [private_thread(e) for e in (top, reply, click, threaded_click)] == [
        None,
        "1.0",
        None,
        "1.0",
    ]
