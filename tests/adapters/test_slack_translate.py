"""Slack payload rules (slack/events.py) and Block Kit rendering (slack/blocks.py), offline."""

from __future__ import annotations

import pytest

from bot.adapters.slack.blocks import BUTTON_LABEL_LIMIT, decode_value, encode_value, render
from bot.adapters.slack.events import (
    Identity,
    dedupe_keys,
    strip_mention,
    to_interaction,
    to_message,
)
from bot.events import Choice

ME = Identity("UBOT", "BBOT", "T1")


def test_mentions_are_stripped_in_both_formats_and_entities_unescaped() -> None:
    assert strip_mention("<@UBOT> quota &lt;10 TB&gt; &amp; more", ME) == (
        "quota <10 TB> & more",
        True,
    )
    assert strip_mention("hey <@UBOT|quartermaster>: ping", ME) == ("hey ping", True)
    assert strip_mention("<@UOTHER> ping", ME) == ("<@UOTHER> ping", False)


def test_channel_and_dm_messages() -> None:
    channel = to_message(
        {
            "type": "message",
            "channel": "C1",
            "channel_type": "channel",
            "user": "U1",
            "text": "<@UBOT> ping",
            "ts": "1.1",
        },
        ME,
        user_name="a",
    )
    assert channel is not None
    assert (channel.text, channel.mentioned, channel.direct, channel.thread, channel.id) == (
        "ping",
        True,
        False,
        "1.1",
        "1.1",
    )
    reply = to_message(
        {
            "type": "message",
            "channel": "C1",
            "channel_type": "channel",
            "user": "U1",
            "text": "more",
            "ts": "1.5",
            "thread_ts": "1.1",
        },
        ME,
        user_name="a",
    )
    assert reply is not None and (reply.thread, reply.mentioned) == ("1.1", False)
    dm = to_message(
        {
            "type": "message",
            "channel": "D1",
            "channel_type": "im",
            "user": "U1",
            "text": "ping",
            "ts": "2.1",
        },
        ME,
        user_name="a",
    )
    assert dm is not None and (dm.direct, dm.thread, dm.addressed) == (True, None, True)


def test_system_subtypes_and_empty_changes_are_not_messages() -> None:
    join = {
        "type": "message",
        "subtype": "channel_join",
        "channel": "C1",
        "user": "U1",
        "text": "<@U1> has joined",
        "ts": "1.1",
    }
    assert to_message(join, ME, user_name="a") is None
    unfurl = {
        "type": "message",
        "subtype": "message_changed",
        "channel": "C1",
        "message": {"user": "U1", "text": "x", "ts": "1.1"},
        "previous_message": {"user": "U1", "text": "x", "ts": "1.1"},
    }
    assert to_message(unfurl, ME, user_name="a") is None


def test_both_deliveries_of_a_mention_share_the_channel_ts_key() -> None:
    event = {"channel": "C1", "ts": "1.1", "user": "U1", "text": "<@UBOT> hi"}
    mention = dedupe_keys({"team_id": "T1", "event_id": "Ev1"}, dict(event, type="app_mention"))
    message = dedupe_keys({"team_id": "T1", "event_id": "Ev2"}, dict(event, type="message"))
    assert mention[0] != message[0] and mention[1] == message[1]


def test_buttons_have_unique_ids_and_carry_action_and_value() -> None:
    choices = [Choice(f"Option {i}", "pick", str(i)) for i in range(30)]
    blocks = render("x" * 7000, choices)
    assert blocks is not None
    sections = [b for b in blocks if b["type"] == "section"]
    actions = [b for b in blocks if b["type"] == "actions"]
    assert [len(s["text"]["text"]) for s in sections] == [3000, 3000, 1000]
    assert [len(a["elements"]) for a in actions] == [25, 5]
    ids = [e["action_id"] for a in actions for e in a["elements"]]
    assert len(set(ids)) == 30
    assert decode_value(actions[1]["elements"][0]["value"]) == ("pick", "25")
    assert render("no buttons", []) is None


def test_long_labels_are_cut_and_oversized_values_refused() -> None:
    (_, actions) = render("t", [Choice("L" * 100, "a")]) or []
    assert len(actions["elements"][0]["text"]["text"]) == BUTTON_LABEL_LIMIT
    with pytest.raises(ValueError, match="2000"):
        encode_value(Choice("big", "a", "v" * 2000))


def test_clicks_on_foreign_buttons_are_not_interactions() -> None:
    body = {
        "user": {"id": "U1", "name": "a"},
        "channel": {"id": "C1"},
        "container": {"message_ts": "1.1", "channel_id": "C1"},
    }
    assert to_interaction(body, {"value": "not json", "action_id": "x"}) is None
    ours = to_interaction(
        body, {"value": encode_value(Choice("Go", "go", "7")), "action_id": "qm-choice-0"}
    )
    assert ours is not None
    assert (ours.action, ours.value, ours.thread, ours.direct) == ("go", "7", "1.1", False)


def test_outgoing_text_is_inert_but_the_bots_own_mentions_are_live() -> None:
    from bot import markup
    from bot.adapters.slack.blocks import escape

    assert escape("size > 10TB & a<b") == "size &gt; 10TB &amp; a&lt;b"
    # whatever the text carries is shown as typed, never as a mention, broadcast or link
    assert (
        escape("ask <@U024BE7LH> in <#C123|general>, <!here>, <https://evil|bank>")
        == "ask &lt;@U024BE7LH&gt; in &lt;#C123|general&gt;, &lt;!here&gt;, "
        "&lt;https://evil|bank&gt;"
    )
    # the bot's own tag (adapter.mention) is live; another platform's user reads as a name
    ours = markup.mention("slack", "U024BE7LH", "@sam")
    theirs = markup.mention("mattermost", "abc", "@mary <3")
    assert escape(f"waiting for {ours} and {theirs}") == (
        "waiting for <@U024BE7LH> and @mary &lt;3"
    )
    # marker characters typed by a user do not make a marker
    forged = markup.strip(f"{markup.OPEN}slack{markup.SEP}UEVIL{markup.SEP}x{markup.CLOSE}")
    assert escape(forged) == "slackUEVILx"
    assert escape("plain text") == "plain text"
