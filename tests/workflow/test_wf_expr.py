"""The condition language: units, logic, missing values, and everything it must refuse."""

from __future__ import annotations

import pytest

from bot.workflow.expr import Expr, ExprError

TB = 10**12


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("size <= 5TB", {"size": 5 * TB}, True),
        ("size <= 5TB", {"size": 8 * TB}, False),
        ("size > 5TB and size <= 10TB", {"size": 8 * TB}, True),
        ("size <= 10TB or purchase_ref", {"size": 12 * TB, "purchase_ref": "PO-1"}, True),
        ("size <= 10TB or purchase_ref", {"size": 12 * TB, "purchase_ref": None}, False),
        ("not (size > 1.5TiB)", {"size": 2**40}, True),
        ("size == 750GB", {"size": 750 * 10**9}, True),
        ("extra <= 2d", {"extra": 36 * 3600}, True),
        ("extra <= 2d", {"extra": 3 * 86400}, False),
        ("extra >= 90min", {"extra": 5400}, True),
        ("cluster in ['grace', 'aces']", {"cluster": "aces"}, True),
        ("cluster not in ['grace', 'aces']", {"cluster": "terra"}, True),
        ("licence != 'open source'", {"licence": "site licence"}, True),
        ("count * 2 + 1 >= 7", {"count": 3}, True),
        ("-count < 0", {"count": 3}, True),
        ("flag == true", {"flag": True}, True),
        ("name == '5TB'", {"name": "5TB"}, True),  # units are not expanded inside strings
        ("1 < count < 5", {"count": 3}, True),
    ],
)
def test_evaluates(source: str, values: dict[str, object], expected: bool) -> None:
    assert Expr(source).test(values) is expected


def test_names_are_the_fields_read() -> None:
    assert Expr("size > 5TB and (purchase_ref or kind == 'buy-in')").names == {
        "size",
        "purchase_ref",
        "kind",
    }


def test_missing_values_make_comparisons_false_not_errors() -> None:
    assert Expr("size > 5TB").test({}) is False
    assert Expr("size + 1 > 5").test({"size": None}) is False
    assert Expr("count / 0 > 1").test({"count": 3}) is False


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("__import__('os').system('id')", "function calls"),
        ("size.__class__", "attribute access"),
        ("size.bit_length", "attribute access"),
        ("open('/etc/passwd')", "function calls"),
        ("names[0] == 1", "subscripts"),
        ("(lambda: 1)()", "function calls"),
        ("__builtins__", "not allowed"),
        ("[x for x in size]", "comprehensions"),
        ("(x := 1)", "assignments"),
        ("size is None", "'is' comparisons"),
        ("{'a': 1}", "dictionaries"),
        ("size ** 2 > 4", "allowed as arithmetic"),
        ("5XB > size", "unknown unit"),
        ("size >", "cannot parse"),
        ("", "non-empty"),
    ],
)
def test_refuses_everything_outside_the_language(source: str, why: str) -> None:
    with pytest.raises(ExprError, match=why):
        Expr(source)
