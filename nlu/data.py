"""Reader for Rasa 3.x NLU training data (YAML), with entity annotations that may contain brackets.

Rasa's own reader uses a regular expression that stops at the first ``]``, so an annotation such as
``[c[001-010]](node)`` is silently lost. This reader matches brackets by depth instead. Supported
annotation forms: ``[text](entity)``, ``[text](entity:value)``, ``[text]{"entity": "e", "value":
"v"}``. Also read: ``synonym``, ``lookup`` and ``regex`` blocks. Every problem is reported as
``file:line: message`` through :class:`DataError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

OUT_OF_SCOPE = "out_of_scope"
_NAME = re.compile(r"^[A-Za-z_][\w\-.]*$")


class DataError(ValueError):
    """Malformed training data; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class EntitySpan:
    entity: str
    start: int
    end: int
    value: str | None = None  # an explicit value from the annotation (a synonym), else None


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    entities: tuple[EntitySpan, ...] = ()
    source: str = ""


@dataclass
class TrainingData:
    examples: list[Example] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)  # lower-case variant → canonical value
    lookups: dict[str, list[str]] = field(default_factory=dict)
    regexes: dict[str, list[str]] = field(default_factory=dict)

    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.examples})

    def merge(self, other: TrainingData) -> None:
        self.examples.extend(other.examples)
        self.synonyms.update(other.synonyms)
        for key, values in other.lookups.items():
            self.lookups.setdefault(key, []).extend(values)
        for key, values in other.regexes.items():
            self.regexes.setdefault(key, []).extend(values)


def _closing(text: str, open_at: int) -> int:
    """Index of the ``]`` matching the ``[`` at ``open_at``, or -1."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i
    return -1


def _annotation(raw: str, where: str) -> tuple[str, str | None]:
    """Entity name and explicit value from ``(entity)``, ``(entity:value)`` or ``{json}``."""
    if raw.startswith("("):
        inner = raw[1:-1].strip()
        entity, _, value = inner.partition(":")
        entity = entity.strip()
        return entity, (value.strip() or None)
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: bad entity annotation {raw!r}: {exc.msg}") from None
    if isinstance(meta, list):
        if not meta:
            raise DataError(f"{where}: empty entity annotation list")
        meta = meta[0]
    if not isinstance(meta, dict) or not isinstance(meta.get("entity"), str):
        raise DataError(f'{where}: entity annotation needs an "entity" name: {raw!r}')
    explicit = meta.get("value")
    return str(meta["entity"]), (str(explicit) if explicit is not None else None)


def _annotation_end(text: str, start: int) -> int:
    """End (exclusive) of the ``(...)`` or ``{...}`` annotation starting at ``start``, or -1."""
    if text[start] == "(":
        end = text.find(")", start)
        if text.find("(", start + 1, end if end != -1 else None) != -1:
            return -1
        return end + 1 if end != -1 else -1
    depth, in_string = 0, False
    for i in range(start, len(text)):
        ch = text[i]
        if ch == '"' and text[i - 1] != "\\":
            in_string = not in_string
        elif not in_string and ch in "{[":
            depth += 1
        elif not in_string and ch in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def parse_annotated(
    line: str, where: str = "<text>"
) -> tuple[str, list[tuple[str, int, int, str | None]]]:
    """Strip annotations from one example: plain text plus (entity, start, end, value) tuples.

    A ``[`` that is not closed by a ``]`` directly followed by ``(`` or ``{`` is ordinary text, so
    unannotated hostlists such as ``c[001-003]`` survive as written.
    """
    out: list[str] = []
    spans: list[tuple[str, int, int, str | None]] = []
    length = 0
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "[":
            close = _closing(line, i)
            after = line[close + 1 : close + 3] if close != -1 else ""
            if after[:1] in ("(", "{") or after == "[{":
                end = _annotation_end(line, close + 1)
                if end == -1:
                    raise DataError(
                        f"{where}: unterminated entity annotation after {line[i : close + 1]!r}"
                    )
                entity, value = _annotation(line[close + 1 : end], where)
                if not _NAME.match(entity):
                    raise DataError(f"{where}: bad entity name {entity!r}")
                inner, inner_spans = parse_annotated(line[i + 1 : close], where)
                if inner_spans:
                    raise DataError(f"{where}: nested entity annotations are not supported")
                if not inner.strip():
                    raise DataError(f"{where}: empty entity text for {entity!r}")
                out.append(inner)
                spans.append((entity, length, length + len(inner), value))
                length += len(inner)
                i = end
                continue
        out.append(ch)
        length += 1
        i += 1
    return "".join(out), spans


def _example_lines(node: yaml.Node, where_file: str) -> Iterable[tuple[str, int]]:
    """(text, 1-based line) for each ``- example`` of an ``examples`` value."""
    if isinstance(node, yaml.ScalarNode):
        first = node.start_mark.line + (1 if node.style in ("|", ">") else 0)
        for offset, raw in enumerate(str(node.value).splitlines()):
            stripped = raw.strip()
            if not stripped:
                continue
            if not stripped.startswith("- ") and stripped != "-":
                raise DataError(f"{where_file}:{first + offset + 1}: example must start with '- '")
            yield stripped[2:].strip(), first + offset + 1
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            if isinstance(item, yaml.ScalarNode):
                yield str(item.value), item.start_mark.line + 1
            elif isinstance(item, yaml.MappingNode):
                for key, val in item.value:
                    if key.value == "text" and isinstance(val, yaml.ScalarNode):
                        yield str(val.value).strip(), val.start_mark.line + 1
            else:
                raise DataError(f"{where_file}:{item.start_mark.line + 1}: bad example")
    else:
        raise DataError(
            f"{where_file}:{node.start_mark.line + 1}: 'examples' must be a block of '- ' lines"
        )


def _mapping(node: yaml.MappingNode) -> dict[str, yaml.Node]:
    return {str(k.value): v for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def read_file(path: Path) -> TrainingData:
    """Read one Rasa NLU YAML file; files without an ``nlu:`` key yield no data."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{where}:0: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise DataError(f"{where}:0: not UTF-8 text") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DataError(f"{where}:{line}: invalid YAML: {problem}") from None
    data = TrainingData()
    if root is None:
        return data
    if not isinstance(root, yaml.MappingNode):
        raise DataError(f"{where}:{root.start_mark.line + 1}: top level must be a mapping")
    top = _mapping(root)
    nlu = top.get("nlu")
    if nlu is None:
        return data
    if not isinstance(nlu, yaml.SequenceNode):
        raise DataError(f"{where}:{nlu.start_mark.line + 1}: 'nlu' must be a list")
    for block in nlu.value:
        _read_block(block, where, data)
    return data


def _read_block(block: yaml.Node, where: str, data: TrainingData) -> None:
    line = block.start_mark.line + 1
    if not isinstance(block, yaml.MappingNode):
        raise DataError(f"{where}:{line}: each 'nlu' item must be a mapping")
    fields = _mapping(block)
    kinds = [k for k in ("intent", "synonym", "lookup", "regex") if k in fields]
    if len(kinds) != 1:
        raise DataError(f"{where}:{line}: item needs exactly one of intent, synonym, lookup, regex")
    kind = kinds[0]
    name_node = fields[kind]
    name = str(name_node.value).strip() if isinstance(name_node, yaml.ScalarNode) else ""
    if not name or (kind != "synonym" and not _NAME.match(name)):
        raise DataError(f"{where}:{line}: bad {kind} name {name!r}")
    if "examples" not in fields:
        raise DataError(f"{where}:{line}: {kind} {name!r} has no 'examples'")
    for text, ex_line in _example_lines(fields["examples"], where):
        loc = f"{where}:{ex_line}"
        if not text:
            raise DataError(f"{loc}: empty example")
        if kind == "intent":
            plain, spans = parse_annotated(text, loc)
            entities = tuple(EntitySpan(e, s, t, v) for e, s, t, v in spans)
            for span in entities:
                if span.value is not None:
                    data.synonyms.setdefault(plain[span.start : span.end].lower(), span.value)
            data.examples.append(Example(plain, name, entities, loc))
        elif kind == "synonym":
            data.synonyms[text.lower()] = name
        elif kind == "lookup":
            data.lookups.setdefault(name, []).append(text)
        else:
            try:
                re.compile(text)
            except re.error as exc:
                raise DataError(f"{loc}: bad regex: {exc}") from None
            data.regexes.setdefault(name, []).append(text)


def data_files(path: Path) -> list[Path]:
    """The YAML files that make up ``path`` (a file, or a directory searched recursively)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}:0: no such file or directory")
    return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def load_data(path: Path) -> TrainingData:
    """All training data under ``path``; a directory without examples is an error."""
    data = TrainingData()
    for file in data_files(path):
        data.merge(read_file(file))
    if not data.examples:
        raise DataError(f"{path}:0: no intent examples found")
    return data
