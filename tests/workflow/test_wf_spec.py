"""Request-type YAML: the shipped examples load; errors name the file and the key; inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_ROLES
from bot.errors import ConfigError
from bot.workflow.loader import load_types

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "workflows"
TB = 10**12

BASE = """\
title: Thing
channel: helpdesk
fields:
  size: {type: size, question: How much}
  path: {type: path}
states:
  submitted: {}
  done: {terminal: true}
completed: done
transitions:
  finish:
    from: submitted
    to: done
    allow: [{roles: [staff], when: size <= 5TB}]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_examples_load_with_the_default_roles() -> None:
    types = load_types(SHIPPED, DEFAULT_ROLES)
    assert {"quota", "quota_buyin", "software_install", "walltime_extension", "account"} <= set(
        types
    )
    quota = types["quota"]
    assert quota.intent == "request_quota"
    assert quota.test("size <= 5TB", {"size": 5 * TB})
    assert not quota.needed("purchase_ref", {"size": 8 * TB})
    assert quota.needed("purchase_ref", {"size": 12 * TB})
    assert types["walltime_extension"].fields["extra"].max_value == 7 * 86400


def test_inheritance_merges_fields_and_overrides_rules() -> None:
    types = load_types(SHIPPED, DEFAULT_ROLES)
    quota, buyin = types["quota"], types["quota_buyin"]
    assert list(buyin.fields) == list(quota.fields)  # inherited, same order
    assert buyin.fields["purchase_ref"].required is True  # overridden key
    assert buyin.fields["purchase_ref"].label == "Purchase reference"  # kept from parent
    assert buyin.fields["size"].question == quota.fields["size"].question
    assert buyin.fields["size"].max_value == 2 * 10**15
    assert [r.roles for r in buyin.transitions["approve"].allow] == [["management"]]
    assert buyin.transitions["deny"].allow == quota.transitions["deny"].allow
    assert buyin.aliases == ["buyin", "buy-in"] and "quota" not in buyin.aliases
    assert buyin.intent == "request_quota" and buyin.keywords


def test_a_child_can_remove_an_inherited_field(tmp_path: Path) -> None:
    write(tmp_path, "base", BASE)
    write(tmp_path, "child", "extends: base\nfields:\n  path: null\n")
    types = load_types(tmp_path, DEFAULT_ROLES)
    assert list(types["child"].fields) == ["size"]
    assert list(types["base"].fields) == ["size", "path"]


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (("type: size, question", "type: bytes, question"), "fields.size.type", "Input should be"),
        (
            ("when: size <= 5TB", "when: sise <= 5TB"),
            "transitions.finish.allow[0].when",
            "unknown field 'sise'",
        ),
        (
            ("when: size <= 5TB", "when: size.real > 1"),
            "transitions.finish.allow[0].when",
            "attribute access",
        ),
        (
            ("roles: [staff]", "roles: [wizard]"),
            "transitions.finish.allow[0].roles",
            "unknown role 'wizard'",
        ),
        (("to: done", "to: finished"), "transitions.finish.to", "no state 'finished'"),
        (("from: submitted", "from: waiting"), "transitions.finish.from", "no state 'waiting'"),
        (("completed: done", "completed: closed"), "completed", "no state 'closed'"),
        (
            ("  submitted: {}", "  submitted: {remind_after: soonish}"),
            "states.submitted.remind_after",
            "not a duration",
        ),
        (("  path: {type: path}", "  path: {type: choice}"), "fields.path", "choices"),
        (
            ("  path: {type: path}", "  path: {type: path, colour: red}"),
            "fields.path.colour",
            "Extra inputs",
        ),
        (
            ("allow: [{roles: [staff], when: size <= 5TB}]", "allow: []"),
            "transitions.finish.allow",
            "say who may take it",
        ),
    ],
)
def test_errors_name_the_file_and_the_key(
    tmp_path: Path, change: tuple[str, str], where: str, what: str
) -> None:
    old, new = change
    assert old in BASE
    path = write(tmp_path, "thing", BASE.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_types(tmp_path, DEFAULT_ROLES)
    message = str(info.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert what in message


def test_yaml_syntax_errors_give_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken", "title: x\nfields: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{path}: invalid YAML \(line \d+\)"):
        load_types(tmp_path)


def test_extends_errors(tmp_path: Path) -> None:
    write(tmp_path, "a", "extends: nowhere\n" + BASE)
    with pytest.raises(ConfigError, match=r"a\.yml: extends: no request type 'nowhere'"):
        load_types(tmp_path)
    write(tmp_path, "a", "extends: b\n" + BASE)
    write(tmp_path, "b", "extends: a\n" + BASE)
    with pytest.raises(ConfigError, match=r"extends: inheritance loop"):
        load_types(tmp_path)


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="workflow directory not found"):
        load_types(tmp_path / "nope")
