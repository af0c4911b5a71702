"""The strict per-node Hiera file format, as the Techlab administrators wrote it by hand.

    # gpu05: node loans (managed by Quartermaster; `quartermaster hiera check` keeps it strict)
    users:
      - alice ##t From:2027-03-01 To:2027-04-30 ##r REQ-17 ##p Porting to ARM ##e Techlab
    sudoers:
      - alice: "ALL=(ALL) NOPASSWD: ALL"

Top-level keys at column 0, list items one level (two spaces) in. The loan metadata lives in
YAML comments (``##t`` dates, ``##r`` request, ``##p`` project, ``##e`` experiment), so Puppet
sees a plain list of user names; tags belong in the user block only. Edits are made line by
line — other loans' lines, hand-written comments and unknown keys are kept as they are.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date

MAX_LINE = 2000
INDENT = "  "
_KEY = re.compile(r"^(?P<key>[A-Za-z][A-Za-z0-9_:]{0,99})\s*:(?:\s+(?P<rest>.*))?$")
_USER = re.compile(r"^[a-z_][a-z0-9_.\-]{0,31}$")
_REF = re.compile(r"^REQ-\d{1,9}$")
_SIMPLE = re.compile(r"^[A-Za-z0-9_.@%+\-]{1,100}$")
TAGS = ("t", "r", "p", "e")


# -- one user line ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class UserEntry:
    """A user line's name and tags (values as written, unchecked)."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    @property
    def ref(self) -> str | None:
        return self.tags.get("r")

    def dates(self) -> tuple[date | None, date | None]:
        """From and To of the ``##t`` tag, None where missing or not a date."""
        found: dict[str, date | None] = {"from": None, "to": None}
        for word in self.tags.get("t", "").split():
            label, _, value = word.partition(":")
            if label.lower() in found:
                try:
                    found[label.lower()] = date.fromisoformat(value)
                except ValueError:
                    found[label.lower()] = None
        return found["from"], found["to"]


def clean(text: str) -> str:
    """A tag value on one line: no ``#`` (it would start a tag), no line breaks."""
    return " ".join(text.replace("#", " ").split())[:200]


def format_user(
    name: str, start: date, end: date, ref: str, project: str = "", experiment: str = ""
) -> str:
    line = f"{INDENT}- {name} ##t From:{start.isoformat()} To:{end.isoformat()} ##r {ref}"
    if clean(project):
        line += f" ##p {clean(project)}"
    if clean(experiment):
        line += f" ##e {clean(experiment)}"
    return line


def parse_user(item: str) -> UserEntry:
    """``- alice ##t …`` (without the indentation) as name and tags."""
    body = item[1:].strip() if item.startswith("-") else item.strip()
    head, *parts = body.split("##")
    tags: dict[str, str] = {}
    unknown: list[str] = []
    for part in parts:
        letter, value = part[:1], part[1:].strip()
        if letter in TAGS and letter not in tags and (part[1:2] in (" ", "")):
            tags[letter] = value
        else:
            unknown.append(part.strip()[:20])
    return UserEntry(head.strip().strip("'\""), tags, tuple(unknown))


def format_tags(entry: UserEntry) -> str:
    """The canonical text of a user line (tags in order, single spaces, From:/To: spelt so)."""
    line = f"{INDENT}- {entry.name}"
    for letter in TAGS:
        if letter not in entry.tags:
            continue
        value = entry.tags[letter]
        if letter == "t":
            start, end = entry.dates()
            if start and end:
                value = f"From:{start.isoformat()} To:{end.isoformat()}"
        elif letter == "r":
            m = re.fullmatch(r"(?i)req[-_ ]?(\d{1,9})", value.strip())
            value = f"REQ-{m.group(1)}" if m else value
        line += f" ##{letter} {' '.join(value.split())}"
    for part in entry.unknown:
        line += f" ##{part}"
    return line


def format_pair(key: str, value: str) -> str:
    k = key if _SIMPLE.match(key) else json.dumps(key)
    return f"{INDENT}- {k}: {json.dumps(value)}"


# -- the file as blocks ----------------------------------------------------------------------
@dataclass(slots=True)
class Block:
    key: str
    header: str
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Document:
    """A node file split at its top-level keys; renders back byte for byte when unchanged."""

    preamble: list[str] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> Document:
        doc = cls()
        current: Block | None = None
        for line in text.splitlines():
            m = _KEY.match(line) if line[:1].isalpha() else None
            if m:
                current = Block(m.group("key"), line)
                doc.blocks.append(current)
            elif current is None:
                doc.preamble.append(line)
            else:
                current.lines.append(line)
        return doc

    def render(self) -> str:
        out = list(self.preamble)
        for block in self.blocks:
            out.append(block.header)
            out.extend(block.lines)
        while out and not out[-1].strip():
            out.pop()
        return "\n".join(out) + "\n"

    def block(self, key: str, create: bool = False) -> Block | None:
        for block in self.blocks:
            if block.key == key:
                return block
        if not create:
            return None
        block = Block(key, f"{key}:")
        self.blocks.append(block)
        return block

    def is_empty(self) -> bool:
        return not any(_items(b) for b in self.blocks) and not any(
            (b.header.split(":", 1)[1].strip() not in ("", "[]")) for b in self.blocks
        )


def _items(block: Block) -> list[str]:
    return [ln for ln in block.lines if ln.strip() and not ln.lstrip().startswith("#")]


def _append(block: Block, line: str) -> None:
    if block.header.rstrip().endswith("[]"):
        block.header = f"{block.key}:"
    end = len(block.lines)
    while end and not block.lines[end - 1].strip():
        end -= 1
    block.lines.insert(end, line)


def _empty_marker(block: Block) -> None:
    if not _items(block):
        block.header = f"{block.key}: []"


def add_loan(
    text: str,
    users_key: str,
    user_lines: list[str],
    extra: dict[str, list[list[str]]],
    header: str = "",
) -> str:
    """``text`` with the loan's user lines and extra entries added (none twice)."""
    doc = Document.parse(text)
    if not text.strip() and header:
        doc.preamble = [header]
    users = doc.block(users_key, create=True)
    assert users is not None
    present = {ln.rstrip() for ln in users.lines}
    for line in user_lines:
        if line not in present:
            _append(users, line)
    for key, pairs in extra.items():
        block = doc.block(key, create=True)
        assert block is not None
        present = {ln.rstrip() for ln in block.lines}
        for k, v in pairs:
            line = format_pair(k, v)
            if line not in present:
                _append(block, line)
    return doc.render()


def remove_loan(
    text: str, users_key: str, ref: str, extra: dict[str, list[list[str]]], keep: set[str]
) -> str:
    """``text`` without the user lines tagged ``##r ref`` and without the loan's extra entries
    (except the lines in ``keep``: other loans of this node want them too)."""
    doc = Document.parse(text)
    users = doc.block(users_key)
    if users is not None:
        users.lines = [
            ln
            for ln in users.lines
            if not (ln.lstrip().startswith("-") and parse_user(ln.strip()).ref == ref)
        ]
        _empty_marker(users)
    for key, pairs in extra.items():
        block = doc.block(key)
        if block is None:
            continue
        gone = {format_pair(k, v) for k, v in pairs} - keep
        block.lines = [ln for ln in block.lines if ln.rstrip() not in gone]
        if not _items(block):
            doc.blocks.remove(block)
    return doc.render()


def users_of(text: str, users_key: str) -> list[UserEntry]:
    users = Document.parse(text).block(users_key)
    if users is None:
        return []
    return [parse_user(ln.strip()) for ln in _items(users) if ln.lstrip().startswith("-")]
