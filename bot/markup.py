"""The bot's own live markup inside otherwise inert text: mentions that survive escaping.

Replies mix the bot's words with what users typed (reasons, comments, field values, names), and
an adapter cannot tell the two apart. So adapters treat every outgoing text as inert — Slack
escapes ``<``/``>``/``&``, Mattermost defuses ``@channel``, ``@name`` and Markdown links — and
the one thing the bot itself makes live, tagging a user, travels as a marker made by
``mention``: private-use characters that adapters turn into their platform's mention (or, for
another platform's user, into plain text). Users cannot forge a marker: adapters ``strip`` the
marker characters from everything a user sends, and a marker is honoured only for the platform
it names. See docs/decisions/0019-user-text-is-inert.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

OPEN, SEP, CLOSE = "\ue000", "\ue001", "\ue002"
_MARK_CHARS = re.compile(f"[{OPEN}{SEP}{CLOSE}]")
_MARKER = re.compile(
    f"{OPEN}([^{OPEN}{SEP}{CLOSE}]{{1,40}}){SEP}([^{OPEN}{SEP}{CLOSE}]{{1,100}})"
    f"{SEP}([^{OPEN}{SEP}{CLOSE}]{{0,200}}){CLOSE}"
)


@dataclass(frozen=True)
class Mention:
    """A tag of ``user_id`` on ``platform``; ``fallback`` is how it reads anywhere else."""

    platform: str
    user_id: str
    fallback: str


def strip(text: str) -> str:
    """``text`` without marker characters: what a user typed can never become a marker."""
    return _MARK_CHARS.sub("", text) if OPEN in text or SEP in text or CLOSE in text else text


def mention(platform: str, user_id: str, fallback: str) -> str:
    """A marker for a live tag of ``user_id``, rendered by the adapter of ``platform``."""
    return f"{OPEN}{strip(platform)}{SEP}{strip(user_id)}{SEP}{strip(fallback)}{CLOSE}"


def parts(text: str) -> Iterator[str | Mention]:
    """The text in order: plain stretches (``str``, marker characters removed) and mentions."""
    if OPEN not in text:
        if text:
            yield strip(text)
        return
    last = 0
    for m in _MARKER.finditer(text):
        if m.start() > last:
            yield strip(text[last : m.start()])
        yield Mention(m.group(1), m.group(2), m.group(3))
        last = m.end()
    if last < len(text):
        yield strip(text[last:])


def plain(text: str) -> str:
    """Markers replaced by their fallback: for places without live mentions (shell, logs)."""
    if OPEN not in text:
        return strip(text)
    return "".join(p if isinstance(p, str) else p.fallback for p in parts(text))
