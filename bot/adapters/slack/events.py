"""Translating Slack's event and interaction payloads into our ``Message`` and ``Interaction``.

Pure functions over Slack's documented shapes, so the rules (what is a DM, which ``ts`` is the
thread, what an edit is, how a mention is written) live in one place and are easy to test.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import markup
from bot.adapters.slack.blocks import PLATFORM as PLATFORM
from bot.adapters.slack.blocks import decode_value
from bot.events import Event, Interaction, Message

#: message subtypes that are ordinary user messages (others are joins, topics, deletions …)
USER_SUBTYPES = frozenset({None, "", "thread_broadcast", "file_share", "me_message"})


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the bot is on this workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str | None = None
    team_id: str | None = None


def mention_pattern(user_id: str) -> re.Pattern[str]:
    """``<@U123>`` and the legacy ``<@U123|name>``."""
    return re.compile(rf"<@{re.escape(user_id)}(?:\|[^>]*)?>")


def strip_mention(text: str, me: Identity) -> tuple[str, bool]:
    """The text without the bot's mention (unescaped), and whether the bot was mentioned."""
    pattern = mention_pattern(me.user_id)
    mentioned = bool(pattern.search(text))
    text = re.sub(pattern.pattern + r"[,:]?", " ", text)  # "@bot: ping", "hey @bot, ping"
    text = re.sub(r"\s+", " ", text).strip()
    return markup.strip(html.unescape(text)), mentioned


def slack_time(ts: str | None) -> datetime:
    try:
        return datetime.fromtimestamp(float(ts or 0), UTC) if ts else datetime.now(UTC)
    except ValueError:
        return datetime.now(UTC)


def is_direct(event: dict[str, Any]) -> bool:
    channel_type = event.get("channel_type")
    if channel_type:
        return bool(channel_type == "im")
    return str(event.get("channel", "")).startswith("D")


def is_bot(message: dict[str, Any]) -> bool:
    return bool(message.get("bot_id")) or message.get("subtype") == "bot_message"


def is_self(message: dict[str, Any], me: Identity) -> bool:
    return message.get("user") == me.user_id or (
        me.bot_id is not None and message.get("bot_id") == me.bot_id
    )


def to_message(
    event: dict[str, Any],
    me: Identity,
    *,
    user_name: str,
    listen_channels: frozenset[str] = frozenset(),
) -> Message | None:
    """A ``Message`` for an ``app_mention`` or ``message`` event; None for what is not one.

    Edits (``message_changed``) become ``Message(edited=True)`` when the text really changed:
    Slack also sends ``message_changed`` for unfurls and for a parent gaining thread replies.
    """
    edited = False
    subtype = event.get("subtype")
    body = event
    if subtype == "message_changed":
        body = event.get("message") or {}
        previous = event.get("previous_message") or {}
        if not body.get("edited") or body.get("text") == previous.get("text"):
            return None
        edited = True
    elif subtype not in USER_SUBTYPES:
        return None
    user = body.get("user") or body.get("bot_id")
    if not user:
        return None
    channel = str(event.get("channel") or body.get("channel") or "")
    ts = body.get("ts")
    direct = is_direct(event)
    thread = body.get("thread_ts")
    if not direct:
        # the bot answers a channel message in its thread, so the conversation lives there:
        # a follow-up typed into that thread must find the same conversation key
        thread = thread or ts
    elif thread == ts:
        thread = None
    text, mentioned = strip_mention(str(body.get("text") or ""), me)
    if event.get("type") == "app_mention":
        mentioned = True
    if not direct and channel in listen_channels:
        mentioned = True
    return Message(
        PLATFORM,
        str(user),
        user_name,
        channel,
        text,
        direct=direct,
        mentioned=mentioned,
        thread=thread,
        id=ts,
        time=slack_time(ts),
        edited=edited,
        raw=event,
    )


def private_thread(event: Event) -> str | None:
    """The thread an ephemeral answer to a channel ``event`` goes in: the original's thread when
    it was in one, else None (the channel itself, where the user is looking) — our ``thread``
    falls back to the message's own ts, which is where public answers go, not private ones."""
    own = event.id if isinstance(event, Message) else event.message_id
    return event.thread if event.thread and event.thread != own else None


def dedupe_keys(body: dict[str, Any], event: dict[str, Any]) -> list[str]:
    """Every identity of one delivery: the event id and (channel, ts [, edit ts])."""
    team = body.get("team_id") or ""
    keys = []
    if body.get("event_id"):
        keys.append(f"slack:{team}:event:{body['event_id']}")
    inner = event.get("message") if event.get("subtype") == "message_changed" else event
    inner = inner or {}
    channel, ts = event.get("channel"), inner.get("ts")
    if channel and ts:
        edit = (inner.get("edited") or {}).get("ts")
        suffix = f":edit:{edit}" if event.get("subtype") == "message_changed" else ""
        keys.append(f"slack:{team}:msg:{channel}:{ts}{suffix}")
    return keys


def to_interaction(body: dict[str, Any], action: dict[str, Any]) -> Interaction | None:
    """An ``Interaction`` for one clicked button of a ``block_actions`` payload."""
    decoded = decode_value(str(action.get("value") or ""))
    if decoded is None:
        return None
    name, value = decoded
    user = body.get("user") or {}
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id") or container.get("channel_id") or "")
    ts = container.get("message_ts") or message.get("ts")
    direct = channel.startswith("D")
    thread = container.get("thread_ts") or message.get("thread_ts")
    if thread is None and not direct:
        thread = ts  # answers go in the thread of the message with the buttons
    user_name = markup.strip(str(user.get("name") or user.get("username") or user.get("id", "")))
    return Interaction(
        PLATFORM,
        str(user.get("id", "")),
        user_name,
        channel,
        name,
        value,
        message_id=ts,
        thread=thread,
        direct=direct,
        time=slack_time(action.get("action_ts")),
        raw=body,
    )


def interaction_keys(body: dict[str, Any], action: dict[str, Any]) -> list[str]:
    team = (body.get("team") or {}).get("id") or ""
    user = (body.get("user") or {}).get("id") or ""
    keys = [f"slack:{team}:click:{user}:{action.get('action_ts')}:{action.get('action_id')}"]
    if body.get("trigger_id"):
        keys.append(f"slack:{team}:trigger:{body['trigger_id']}:{action.get('action_id')}")
    return keys
