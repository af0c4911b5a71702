"""Reading request types from ``config/workflows/*.yml``: inheritance, validation, clear errors.

Every error names the file and the dotted key (``quota.yml: transitions.approve.allow[0].when:
unknown field 'sise'``) because the reader is an operator editing YAML, not a developer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.config import SAFE_LOADER
from bot.errors import ConfigError
from bot.workflow.expr import ExprError
from bot.workflow.fields import duration_seconds
from bot.workflow.spec import RequestType

_MERGED_SECTIONS = ("fields", "states", "transitions", "on_enter")
_NOT_INHERITED = ("name", "extends", "aliases", "keywords", "source")


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (name, fields, states, …)")
    raw.setdefault("name", path.stem)
    raw["source"] = str(path)
    return raw


def _merge(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """The child's keys win; fields/states/transitions merge entry by entry (null removes one)."""
    out = {k: v for k, v in parent.items() if k not in _NOT_INHERITED}
    for key, value in child.items():
        if key in _MERGED_SECTIONS and isinstance(value, dict) and isinstance(out.get(key), dict):
            section = dict(out[key])
            for name, entry in value.items():
                if entry is None:
                    section.pop(name, None)
                elif isinstance(entry, dict) and isinstance(section.get(name), dict):
                    section[name] = {**section[name], **entry}
                else:
                    section[name] = entry
            out[key] = section
        else:
            out[key] = value
    return out


def _resolve(
    name: str, raws: dict[str, dict[str, Any]], chain: tuple[str, ...] = ()
) -> dict[str, Any]:
    raw = raws[name]
    parent = raw.get("extends")
    if parent is None:
        return raw
    if not isinstance(parent, str) or parent not in raws:
        known = ", ".join(sorted(raws))
        raise ConfigError(f"{raw['source']}: extends: no request type {parent!r} (known: {known})")
    if parent in chain or parent == name:
        cycle = " → ".join((*chain, name, parent))
        raise ConfigError(f"{raw['source']}: extends: inheritance loop {cycle}")
    return _merge(_resolve(parent, raws, (*chain, name)), raw)


def _loc(parts: tuple[int | str, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out.replace(".from_", ".from")


def _build(raw: dict[str, Any], known_roles: list[str] | None) -> RequestType:
    source = raw["source"]
    try:
        spec = RequestType.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        more = f" (and {len(exc.errors()) - 1} more problems)" if len(exc.errors()) > 1 else ""
        raise ConfigError(f"{source}: {_loc(err['loc']) or '(top level)'}: {msg}{more}") from None
    problems = list(_check(spec, known_roles))
    if problems:
        key, msg = problems[0]
        raise ConfigError(f"{source}: {key}: {msg}")
    return spec


def _check(spec: RequestType, known_roles: list[str] | None) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    fields = set(spec.fields)

    def expr(key: str, source: str | None) -> None:
        if not source:
            return
        try:
            compiled = spec.expr(source)
        except ExprError as exc:
            problems.append((key, str(exc)))
            return
        unknown = sorted(compiled.names - fields)
        if unknown:
            problems.append(
                (
                    key,
                    f"unknown field {unknown[0]!r} (fields: {', '.join(sorted(fields)) or 'none'})",
                )
            )

    def roles(key: str, names: list[str]) -> None:
        for role in names:
            if known_roles is not None and role not in known_roles:
                problems.append((key, f"unknown role {role!r} (known: {', '.join(known_roles)})"))

    for name, field in spec.fields.items():
        field.name = name
        field.label = field.label or name.replace("_", " ").capitalize()
        field.question = field.question or f"What {field.label.lower()} do you need?"
        expr(f"fields.{name}.required_when", field.required_when)
    if spec.initial not in spec.states:
        problems.append(
            ("initial", f"no state {spec.initial!r} (states: {', '.join(spec.states)})")
        )
    if spec.completed not in spec.states:
        problems.append(("completed", f"no state {spec.completed!r}"))
    for name, state in spec.states.items():
        for i, tag in enumerate(state.tag):
            roles(f"states.{name}.tag[{i}].roles", tag.roles)
            expr(f"states.{name}.tag[{i}].when", tag.when)
        if state.remind_after is not None:
            from nlu.normalise import parse_duration

            iso = parse_duration(str(state.remind_after))
            seconds = duration_seconds(iso) if iso else None
            if not seconds:
                problems.append(
                    (
                        f"states.{name}.remind_after",
                        f"{state.remind_after!r} is not a duration (e.g. 2 days)",
                    )
                )
            state._remind_seconds = seconds
    for entered, actions in spec.on_enter.items():
        if entered not in spec.states:
            problems.append(
                (f"on_enter.{entered}", f"no state {entered!r} (states: {', '.join(spec.states)})")
            )
        for action in actions:
            if not action.isidentifier():
                problems.append(
                    (f"on_enter.{entered}", f"{action!r} is not an action name (e.g. create_vm)")
                )
    for name, tr in spec.transitions.items():
        tr.label = tr.label or name.replace("_", " ").capitalize()
        tr.past = tr.past or (name + ("d" if name.endswith("e") else "ed"))
        for source in tr.from_:
            if source not in spec.states:
                problems.append((f"transitions.{name}.from", f"no state {source!r}"))
        if tr.to not in spec.states:
            problems.append((f"transitions.{name}.to", f"no state {tr.to!r}"))
        if not tr.allow:
            problems.append(
                (
                    f"transitions.{name}.allow",
                    "say who may take it (roles, users or requester: true)",
                )
            )
        for i, rule in enumerate(tr.allow):
            roles(f"transitions.{name}.allow[{i}].roles", rule.roles)
            expr(f"transitions.{name}.allow[{i}].when", rule.when)
    return problems


def load_types(directory: Path, known_roles: list[str] | None = None) -> dict[str, RequestType]:
    """Every request type in ``directory`` (one per ``*.yml`` file), inheritance applied."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: workflow directory not found (workflows.dir)")
    raws: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.y*ml")):
        raw = _read(path)
        name = raw["name"]
        if not isinstance(name, str) or not name.isidentifier():
            raise ConfigError(f"{path}: name: {name!r} must be a simple identifier like quota")
        if name in raws:
            raise ConfigError(f"{path}: name: {name!r} is also defined in {raws[name]['source']}")
        raws[name] = raw
    types = {name: _build(_resolve(name, raws), known_roles) for name in raws}
    seen: dict[str, str] = {}
    for name, spec in types.items():
        for alias in (name, *spec.aliases):
            key = alias.lower()
            if key in seen and seen[key] != name:
                raise ConfigError(f"{spec.source}: aliases: {alias!r} also names {seen[key]!r}")
            seen[key] = name
    return types
