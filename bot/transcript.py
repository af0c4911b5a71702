"""The shell transcript syntax (docs/shell.md): who says what where, and how the bot's side prints.

Input:  ``alice> text`` (a DM to the bot), ``alice@general> text`` (in channel general).
Output: ``bot> text`` (answer in that DM), ``bot@general> text`` (in a channel), ``bot->sam> text``
(a DM to someone else); continuation lines indented by two spaces; choices as ``  1) Label``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(
    r"^(?P<user>[A-Za-z0-9_.-]+)(?:@(?P<channel>[A-Za-z0-9_.-]+))?>(?: (?P<text>.*)|$)"
)
_BOT_LINE = re.compile(r"^bot(?:@[A-Za-z0-9_.-]+|->[A-Za-z0-9_.-]+)?>")


@dataclass(frozen=True, slots=True)
class Said:
    user: str
    channel: str | None
    text: str
    lineno: int


class TranscriptError(ValueError):
    def __init__(self, lineno: int, line: str) -> None:
        super().__init__(
            f"line {lineno}: expected `user> text` or `user@channel> text`, "
            f"got {line.strip()[:60]!r}"
        )
        self.lineno = lineno


def parse_line(line: str, lineno: int = 0) -> Said | None:
    """None for blank lines, comments and the bot's own (expected) lines."""
    stripped = line.rstrip("\n")
    if not stripped.strip() or stripped.lstrip().startswith("#"):
        return None
    if stripped.startswith("  ") or _BOT_LINE.match(stripped):
        return None
    m = _LINE.match(stripped)
    if m is None:
        raise TranscriptError(lineno, stripped)
    return Said(m.group("user"), m.group("channel"), (m.group("text") or "").strip(), lineno)


def format_message(prefix: str, text: str, labels: list[str] | None = None) -> str:
    lines = text.splitlines() or [""]
    out = [f"{prefix} {lines[0]}".rstrip()]
    out += [f"  {line}".rstrip() for line in lines[1:]]
    for i, label in enumerate(labels or (), start=1):
        out.append(f"  {i}) {label}")
    return "\n".join(out)
