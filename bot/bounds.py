"""Limits on what users type and on what the bot says back (docs/operations.md, "Input limits").

A reply that quotes input quotes a bounded excerpt (a 40,000-character message must not come
back as a 40,000-character error), a reply that grows with data (a status card, a history, a
search) is cut to a length every platform shows in one post, and ids and names are checked
against the columns that store them before anything is written, so an absurd value is a clear
sentence and never a database error.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.errors import UserError

QUOTE = 60  # characters of user input quoted back in a reply
REPLY = 8_000  # characters of a reply that grows with data (Mattermost's post limit is 16,383)
USER_ID = 100  # a platform user id (Slack U…, Mattermost 26 characters); columns allow 128-200
REF_DIGITS = 9  # request numbers: REQ-1 … REQ-999999999, within every database's integer id


def quoted(text: str, limit: int = QUOTE) -> str:
    """``text`` quoted for a reply: whole when short, else its start and its length.

    ``'abc'`` or ``'abcdef…' (5,000 characters)``: enough to recognise, never the whole input."""
    if len(text) <= limit:
        return repr(text)
    start = repr(text[:limit])
    return f"{start[:-1]}…{start[-1]} ({len(text):,} characters)"


def clipped(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def fitted(lines: Sequence[str], limit: int = REPLY, *, more: str = "") -> list[str]:
    """The leading ``lines`` whose joined length stays within ``limit``; when some are left out,
    a last line says how many (``… and 12 more.`` followed by ``more``, e.g. where the rest is)."""
    out: list[str] = []
    used = 0
    tail = 80 + len(more)  # room for the "… and N more" line
    for i, line in enumerate(lines):
        cost = len(line) + 1
        rest = len(lines) - i - 1
        if used + cost > limit - (tail if rest else 0):
            left = len(lines) - i
            out.append(f"… and {left:,} more{' ' + more if more else '.'}")
            return out
        out.append(line)
        used += cost
    return out


def user_id(word: str, what: str = "user") -> str:
    """``word`` as a user id to store, or a clear refusal when it cannot be one."""
    if len(word) > USER_ID:
        raise UserError(
            f"That can't be a {what}: a user id has at most {USER_ID} characters "
            f"(that one has {len(word):,}). Mention them (@name) or give their id."
        )
    return word


def ref_number(digits: str, ref: str) -> int:
    """A request number typed by a user, or a clear refusal when it has too many digits."""
    if len(digits) > REF_DIGITS:
        raise UserError(
            f"{clipped(ref, 24)} is not a request: request numbers have at most "
            f"{REF_DIGITS} digits (like REQ-12)."
        )
    return int(digits)
