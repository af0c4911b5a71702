"""Long replies into parts a chat server accepts, and the bookkeeping of posts made of parts.

Servers reject (Mattermost: 400 above ``MaxPostSize``) or truncate (Slack: 40,000 characters of
``text``, 3,000 per section block) long text, so adapters split it where a reader would: at a
paragraph, else a line, else a word, and only as a last resort mid-word. A cut inside a fenced
code block closes the fence and reopens it (same info string) in the next part, so both halves
still render as code.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

#: the smallest limit that leaves room for a reopened fence and some text
MIN_LIMIT = 64
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})([^\n]*)")
_NEWLINES = re.compile(r"\n{2,}")


@dataclass(frozen=True, slots=True)
class _Fence:
    marker: str  # "```" or "~~~~"...
    opener: str  # the whole opening line, info string included

    def closes(self, line: str) -> bool:
        m = _FENCE.fullmatch(line.rstrip())
        return bool(
            m
            and m.group(1)[0] == self.marker[0]
            and len(m.group(1)) >= len(self.marker)
            and not m.group(2).strip()
        )


def _fence_after(fence: _Fence | None, text: str) -> _Fence | None:
    """The fence still open after ``text`` (which starts at a line start), given the one before."""
    for line in text.split("\n"):
        if fence is None:
            m = _FENCE.fullmatch(line)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                fence = _Fence(m.group(1), line.strip())
        elif fence.closes(line):
            fence = None
    return fence


def _allowed(pos: int, atomic: list[tuple[int, int]]) -> bool:
    return not any(start < pos < end for start, end in atomic)


def _cut(text: str, budget: int, atomic: list[tuple[int, int]], in_code: bool) -> tuple[int, int]:
    """(end of this part, start of the next) for ``text`` longer than ``budget``.

    Just before a code block, then paragraph, line, word boundaries are tried in that order,
    each only in the second half of the window so that parts stay reasonably full; then any
    boundary at all; then a hard cut.
    """
    window = text[: budget + 1]
    half = budget // 2
    candidates: list[list[tuple[int, int]]] = [
        []
        if in_code
        else [(m.start(), m.start() + 1) for m in re.finditer(r"\n(?= {0,3}(?:```|~~~))", window)],
        [(m.start(), m.end()) for m in _NEWLINES.finditer(window)],
        [(m.start(), m.end()) for m in re.finditer(r"\n", window)],
        [(m.start(), m.end()) for m in re.finditer(r"[ \t]+", window)],
    ]
    for floor in (half, 1):
        for kind in candidates:
            usable = [(s, e) for s, e in kind if floor <= s <= budget and _allowed(s, atomic)]
            if usable:
                return usable[-1]
    end = budget
    while end > 1 and not _allowed(end, atomic):
        end -= 1
    if end <= 1:
        end = budget
    if 0xDC00 <= ord(text[end]) <= 0xDFFF:  # never between a surrogate pair
        end -= 1
    return end, end


def split(text: str, limit: int, *, atomic: re.Pattern[str] | None = None) -> list[str]:
    """``text`` as parts of at most ``limit`` characters, in order, never empty.

    ``atomic`` matches spans that must not be cut (Slack's ``<url|label>`` links, ``&amp;``).
    """
    if limit < MIN_LIMIT:
        raise ValueError(f"limit must be at least {MIN_LIMIT} characters")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    fence: _Fence | None = None
    rest = text
    while rest:
        opener = (
            fence.opener
            if fence and len(fence.opener) <= limit // 4
            else (fence.marker[: limit // 4] if fence else "")
        )
        prefix = f"{opener}\n" if fence else ""
        if len(prefix) + len(rest) <= limit:
            parts.append(prefix + rest)
            break
        spans = (
            [m.span() for m in atomic.finditer(rest[: 2 * limit + 1]) if m.start() <= limit]
            if atomic
            else []
        )
        budget = limit - len(prefix)
        while True:
            end, nxt = _cut(rest, budget, spans, fence is not None)
            after = _fence_after(fence, rest[:end])
            close = f"\n{after.marker}" if after else ""
            if len(prefix) + end + len(close) <= limit:
                break
            budget = limit - len(prefix) - len(close)
            if budget < limit // 4:  # an absurdly long fence marker: cut plainly
                end = nxt = limit - len(prefix)
                after, close = fence, ""
                break
        body = rest[:end]
        if after is not None and body.endswith("\n"):
            body = body[:-1]
        parts.append(prefix + body + close)
        fence = after
        rest = rest[nxt:]
    return parts


# -- posts made of several parts -------------------------------------------------------------------
class ValueStore(Protocol):
    """What ``PartIndex`` needs of ``bot.kv.KeyValueStore``."""

    async def get(self, namespace: str, key: str, default: Any = None) -> Any: ...
    async def set(
        self, namespace: str, key: str, value: Any, ttl: timedelta | None = None
    ) -> None: ...
    async def delete(self, namespace: str, key: str) -> None: ...


#: how long an update or delete can still reach every part of a long message
PARTS_TTL = timedelta(days=90)


class PartIndex:
    """Which posts together make one long message, kept in the key-value store (namespace
    ``<platform>.parts``) so that an update or delete weeks later (a workflow card after a
    restart) still reaches every part; forgotten after ``PARTS_TTL``.

    Every part's id maps to the whole ordered list, so a ref to any part (the first, returned by
    ``send``, or the last, whose buttons a click names) stands for the whole message. ``scope``
    qualifies ids that are unique only within a channel (Slack's ``ts``).
    """

    def __init__(self, store: ValueStore, platform: str, ttl: timedelta = PARTS_TTL) -> None:
        self.store = store
        self.namespace = f"{platform}.parts"
        self.ttl = ttl

    def _key(self, scope: str, post_id: str) -> str:
        return f"{scope}:{post_id}" if scope else post_id

    async def parts(self, post_id: str, scope: str = "") -> list[str]:
        found = await self.store.get(self.namespace, self._key(scope, post_id))
        return [str(p) for p in found] if isinstance(found, list) and found else [post_id]

    async def remember(
        self, ids: Sequence[str], *, old: Sequence[str] = (), scope: str = ""
    ) -> None:
        """Record ``ids`` as one message (forgetting ``old`` parts no longer in it)."""
        for gone in set(old) - set(ids):
            await self.store.delete(self.namespace, self._key(scope, gone))
        if len(ids) > 1:
            for post_id in ids:
                await self.store.set(self.namespace, self._key(scope, post_id), list(ids), self.ttl)
        elif ids and old:
            await self.store.delete(self.namespace, self._key(scope, ids[0]))


async def rewrite(
    ids: Sequence[str],
    chunks: Sequence[str],
    *,
    edit: Callable[[str, str, bool], Awaitable[None]],
    create: Callable[[str, bool], Awaitable[str]],
    remove: Callable[[str], Awaitable[None]],
) -> list[str]:
    """Make the posts ``ids`` show ``chunks``: edit the ones that exist, post the ones that are
    new (after them, in order), delete the ones left over. The bool says "this is the last part"
    (the one that carries buttons). Returns the ids now making up the message."""
    result: list[str] = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        if index < len(ids):
            await edit(ids[index], chunk, last)
            result.append(ids[index])
        else:
            result.append(await create(chunk, last))
    for post_id in ids[len(chunks) :]:
        await remove(post_id)
    return result
