"""The format police for node files: every violation with its line, and the mechanical fixes.

Fit for a pre-commit hook or CI (``quartermaster hiera check [PATH] [--fix]``): the lines are
read one by one with bounded, linear patterns, so a hand-broken or hostile file cannot stall it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from skills._loans.hiera import (
    _KEY,
    _REF,
    _USER,
    INDENT,
    MAX_LINE,
    Document,
    format_tags,
    parse_user,
)


@dataclass(frozen=True, slots=True, order=True)
class Violation:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def check_text(text: str, path: str, today: date, users_key: str = "users") -> list[Violation]:
    """Every way ``text`` breaks the strict format (``today`` decides what has expired)."""
    found: list[Violation] = []

    def bad(line: int, message: str) -> None:
        found.append(Violation(path, line, message))

    try:
        yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark is not None else 1
        bad(where, f"not valid YAML: {getattr(exc, 'problem', None) or type(exc).__name__}")
    block: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        if len(raw) > MAX_LINE:
            bad(number, f"line longer than {MAX_LINE} characters")
            continue
        line = raw.rstrip()
        if not line:
            continue
        if line.lstrip().startswith("#"):
            if line.lstrip().startswith("##"):
                bad(number, "a ## tag outside a user line")
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            bad(number, "indentation with a tab (use two spaces)")
            continue
        m = _KEY.match(line) if line[:1].isalpha() else None
        if m:
            block = m.group("key")
            if "##" in line:
                bad(number, "a ## tag outside the user block")
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block is None:
            bad(number, "text before the first key")
            continue
        if indent != len(INDENT) or not line.lstrip().startswith("- "):
            bad(number, f"expected a list item indented by two spaces under {block}:")
            if not line.lstrip().startswith("-"):
                continue
        item = line.strip()
        if block != users_key:
            if "##" in item:
                bad(number, f"a ## tag outside the user block (in {block}:)")
            continue
        found.extend(_check_user(item, path, number, today))
    return sorted(found)


def _check_user(item: str, path: str, number: int, today: date) -> list[Violation]:
    out: list[Violation] = []
    entry = parse_user(item)
    label = entry.name or "?"
    if not _USER.match(entry.name):
        out.append(Violation(path, number, f"{label!r} is not a user name"))
    if not entry.tags and not entry.unknown:
        return [*out, Violation(path, number, f"user {label} has no tags (##t and ##r needed)")]
    for part in entry.unknown:
        out.append(Violation(path, number, f"unknown or repeated tag ##{part}"))
    if "t" not in entry.tags:
        out.append(Violation(path, number, f"user {label} has no ##t tag (From: and To: dates)"))
    else:
        start, end = entry.dates()
        if start is None or end is None:
            out.append(
                Violation(
                    path,
                    number,
                    f"incomplete ##t tag for {label}: needs From:YYYY-MM-DD To:YYYY-MM-DD",
                )
            )
        elif end < start:
            out.append(Violation(path, number, f"loan of {label} ends before it starts"))
        elif end < today:
            out.append(
                Violation(
                    path,
                    number,
                    f"loan of {label} ({entry.ref or 'no request'}) ended on {end.isoformat()}",
                )
            )
    if "r" not in entry.tags:
        out.append(Violation(path, number, f"user {label} has no ##r tag (the request)"))
    elif not _REF.match(entry.tags["r"]):
        out.append(Violation(path, number, f"incomplete ##r tag for {label}: expected REQ-<n>"))
    return out


def fix_text(text: str, users_key: str = "users") -> str:
    """The mechanical fixes: tabs and indentation, tag order and spacing, ``key: []`` with
    items, trailing spaces and the final newline. What needs a person (a missing date) stays."""
    lines = []
    block: str | None = None
    for raw in text.splitlines():
        line = raw.replace("\t", INDENT).rstrip()
        m = _KEY.match(line) if line[:1].isalpha() else None
        if m:
            block = m.group("key")
            lines.append(line)
            continue
        stripped = line.strip()
        if block is not None and stripped.startswith("-"):
            item = "- " + stripped[1:].lstrip()
            if block == users_key and "##" in item:
                line = format_tags(parse_user(item))
            else:
                line = INDENT + item
        lines.append(line)
    doc = Document.parse("\n".join(lines))
    for b in doc.blocks:
        has_items = any(ln.strip() and not ln.lstrip().startswith("#") for ln in b.lines)
        if has_items and b.header.rstrip().endswith("[]"):
            b.header = f"{b.key}:"
    return doc.render()


def node_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.yaml") if ".git" not in p.parts)


def check_paths(
    paths: list[Path], today: date, users_key: str = "users", fix: bool = False
) -> tuple[list[Violation], list[Path]]:
    """Violations in every ``*.yaml`` under ``paths`` (after fixing, with ``fix``), and the
    files that were rewritten."""
    violations: list[Violation] = []
    fixed: list[Path] = []
    for root in paths:
        for file in node_files(root):
            try:
                text = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                violations.append(Violation(str(file), 1, f"cannot read: {type(exc).__name__}"))
                continue
            if fix:
                new = fix_text(text, users_key)
                if new != text:
                    tmp = file.with_name(f".{file.name}.qm-tmp")
                    tmp.write_text(new, encoding="utf-8")
                    tmp.replace(file)
                    fixed.append(file)
                    text = new
            violations.extend(check_text(text, str(file), today, users_key))
    return violations, fixed
