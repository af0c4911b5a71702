"""Whitespace tokenisation with character offsets, tuned for HPC chat.

Hostlists (``c[001-010]``), paths, flavors (``m1.large``), ids (``REQ-12``) and numbers with
separators (``1,000,000``) stay single tokens; surrounding punctuation is split off so that
``text[start:end]`` of an entity never includes a trailing comma or question mark. A question
mark becomes a token of its own: questions and commands often differ only by it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_CHUNK = re.compile(r"\S+")
_LEAD = "\"'(<*`“‘"
_TRAIL = "\"'),.!?;:>*`”’"


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


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with offsets; punctuation-only chunks are dropped."""
    tokens: list[Token] = []
    for m in _CHUNK.finditer(text):
        chunk = m.group()
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
