"""Block Kit rendering of a text with ``Choice`` buttons, and decoding of the clicks.

Slack wants ``action_id`` unique within a block, so buttons get positional ids and carry our
``action`` and ``value`` together in the button ``value`` (JSON, under Slack's 2,000 chars).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from bot import markup
from bot.events import Choice
from bot.textsplit import split

SECTION_LIMIT = 3000  # characters of mrkdwn per section block
BUTTON_LABEL_LIMIT = 75  # plain_text of a button
VALUE_LIMIT = 2000  # a button's value
ACTION_PREFIX = "qm-choice-"
PLATFORM = "slack"
BUTTONS_PER_BLOCK = 25  # an actions block holds at most 25 elements


# control sequences a split must not cut (after ``escape`` only our own mentions remain)
_CONTROL = re.compile(
    r"<(?:[@#][A-Z0-9]+(?:\|[^<>]*)?|![a-z^]+(?:\|[^<>]*)?|"
    r"(?:https?|mailto):[^<>\s]+(?:\|[^<>]*)?)>"
)
_USER_ID = re.compile(r"[UWB][A-Z0-9]{2,30}")


#: what a split of escaped text must not cut: our control sequences and the escapes themselves
ATOMIC = re.compile(rf"{_CONTROL.pattern}|&(?:amp|lt|gt);")


def escape(text: str) -> str:
    """Slack's escaping of ``&``, ``<`` and ``>`` applied to the whole text, so nothing in it is
    live (``<!channel>``, ``<@U…>``, ``<https://…|label>`` typed by a user show as typed); only
    the bot's own mention markers (``bot.markup``) become ``<@U…>``."""
    out = []
    for part in markup.parts(text):
        if isinstance(part, str):
            out.append(_escape_plain(part))
        elif part.platform == PLATFORM and _USER_ID.fullmatch(part.user_id):
            out.append(f"<@{part.user_id}>")
        else:  # a user of another platform: their name as plain text
            out.append(_escape_plain(part.fallback))
    return "".join(out)


def _escape_plain(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def encode_value(choice: Choice) -> str:
    value = json.dumps({"a": choice.action, "v": choice.value}, separators=(",", ":"))
    if len(value) > VALUE_LIMIT:
        raise ValueError(
            f"choice {choice.label!r}: action and value exceed Slack's "
            f"{VALUE_LIMIT}-character button value"
        )
    return value


def decode_value(raw: str) -> tuple[str, str] | None:
    """Our (action, value) from a button value; None for buttons we did not make."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str):
        return None
    return data["a"], str(data.get("v", ""))


def _sections(text: str) -> list[dict[str, Any]]:
    """Section blocks of at most ``SECTION_LIMIT`` characters each, split where a reader would
    (Slack refuses a longer section with ``invalid_blocks``)."""
    chunks = split(text, SECTION_LIMIT, atomic=ATOMIC) if text else [" "]
    return [{"type": "section", "text": {"type": "mrkdwn", "text": chunk}} for chunk in chunks]


def _button(index: int, choice: Choice) -> dict[str, Any]:
    label = (
        choice.label
        if len(choice.label) <= BUTTON_LABEL_LIMIT
        else (choice.label[: BUTTON_LABEL_LIMIT - 1] + "…")
    )
    button: dict[str, Any] = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}{index}",
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": encode_value(choice),
    }
    if choice.style in ("primary", "danger"):
        button["style"] = choice.style
    return button


def render(text: str, choices: Sequence[Choice]) -> list[dict[str, Any]] | None:
    """Blocks for a message with buttons; None when there are no choices (plain text is enough)."""
    if not choices:
        return None
    blocks = _sections(text)
    buttons = [_button(i, c) for i, c in enumerate(choices)]
    for start in range(0, len(buttons), BUTTONS_PER_BLOCK):
        blocks.append(
            {
                "type": "actions",
                "block_id": f"qm-choices-{start // BUTTONS_PER_BLOCK}",
                "elements": buttons[start : start + BUTTONS_PER_BLOCK],
            }
        )
    return blocks
