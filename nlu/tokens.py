"""Whitespace tokenisation with character offsets, tuned for HPC chat.

Hostlists (``c[001-010]``), paths, flavors (``m1.large``), ids (``REQ-12``) and numbers with
separators (``1,000,000``) stay single tokens; surrounding punctuation is split off so that
``text[start:end]`` of an entity never includes a trailing comma or question mark. A question
mark becomes a token of its own: questions and commands often differ only by it. Emoji carry no
request: Slack/Mattermost shortcodes (``:pray:``, ``:+1:``, ``:thumbsup::skin-tone-2:``) and
chunks of pictographs are skipped, so they never make a message look unfamiliar. A few pictographs
are words in chat (✅ 👍 👎 ❌ 👋 🙏): their first character is kept, without skin tones.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

_CHUNK = re.compile(r"\S+")
_LEAD = "\"'(<*`“‘"
_TRAIL = "\"'),.!?;:>*`”’"
#: one or more emoji shortcodes, possibly wrapped in punctuation (":pray:", "(:+1:)")
_SHORTCODES = re.compile(r"[\"'(<*`“‘]*(?::[a-z0-9_+\-]{1,40}:)+[\"'),.!?;>*`”’]*", re.IGNORECASE)
#: character classes of emoji and their modifiers (symbols, joiners, variation selectors)
_PICTOGRAPH = frozenset({"So", "Sk", "Cf", "Mn"})
#: pictographs that are words in chat (approve, deny, hello, thanks): kept, without modifiers
_MEANINGFUL = frozenset("✅👍👎❌👋🙏")


class Token(NamedTuple):
    text: str
    start: int
    end: int


def _strip(chunk: str) -> tuple[int, int]:
    """Offsets within ``chunk`` after removing wrapping punctuation; balanced brackets stay."""
    lo, hi = 0, len(chunk)
    while lo < hi and chunk[lo] in _LEAD:
        lo += 1
    while hi > lo:
        ch = chunk[hi - 1]
        if ch in _TRAIL:
            if ch == ")" and chunk.count("(", lo, hi) >= chunk.count(")", lo, hi) > 0:
                break
            hi -= 1
        elif ch == "]" and chunk.count("[", lo, hi) < chunk.count("]", lo, hi):
            hi -= 1
        else:
            break
    return lo, hi


def is_emoji(chunk: str) -> bool:
    """Shortcodes or pictographs only: a reaction, not a word."""
    if _SHORTCODES.fullmatch(chunk):
        return True
    return not chunk.isascii() and all(
        unicodedata.category(ch) in _PICTOGRAPH or ch in _TRAIL for ch in chunk
    )


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with offsets; punctuation-only chunks are dropped, and so are
    emoji unless the message is nothing else (a lone "🙏" or ":wave:" is all there is to read)."""
    tokens = _tokens(text, skip_emoji=True)
    if all(t.text == "?" for t in tokens):
        return _tokens(text, skip_emoji=False)
    return tokens


def _tokens(text: str, *, skip_emoji: bool) -> list[Token]:
    tokens: list[Token] = []
    for m in _CHUNK.finditer(text):
        chunk = m.group()
        if skip_emoji and is_emoji(chunk):
            lo, _ = _strip(chunk)
            if chunk[lo : lo + 1] in _MEANINGFUL:
                tokens.append(Token(chunk[lo], m.start() + lo, m.start() + lo + 1))
            if chunk.endswith("?"):
                tokens.append(Token("?", m.end() - 1, m.end()))
            continue
        lo, hi = _strip(chunk)
        if lo >= hi:
            if "?" in chunk:
                at = m.start() + chunk.index("?")
                tokens.append(Token("?", at, at + 1))
            continue
        inner = chunk[lo:hi]
        base = m.start() + lo
        if inner.endswith("'s") and len(inner) > 2:
            tokens.append(Token(inner[:-2], base, base + len(inner) - 2))
        else:
            tokens.append(Token(inner, base, base + len(inner)))
        question = chunk.find("?", hi)
        if question != -1:  # a question mark is a cue for the intent ("is c042 drained?")
            at = m.start() + question
            tokens.append(Token("?", at, at + 1))
    return tokens
