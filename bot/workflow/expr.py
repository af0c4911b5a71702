"""A small, safe expression language for transition conditions, field rules and tags.

Written in request-type YAML, e.g. ``size <= 5TB``, ``size > 10TB and purchase_ref``,
``cluster in ['grace', 'aces']``, ``extra <= 2d``. Parsed with Python's ``ast`` module and then
*interpreted* by walking a whitelisted subset of nodes: names (request fields), literals,
comparisons, ``and``/``or``/``not``, ``+ - * /`` and lists. Calls, attribute access, subscripts,
lambdas and everything else are rejected when the YAML loads, so nothing is ever ``eval``-ed.

Numbers may carry units: sizes (``5TB`` = 5·10^12 bytes, ``1.5TiB``) and durations (``36h``,
``2d``, ``1w``; seconds). Size fields compare as bytes and duration fields as seconds.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Mapping
from typing import Any

from nlu.normalise import unit_bytes


class ExprError(ValueError):
    """An expression that cannot be parsed or uses something the language does not allow."""


_DURATION_UNITS = {
    "s": 1,
    "sec": 1,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "wk": 604800,
    "week": 604800,
    "weeks": 604800,
}
# string literals are copied verbatim; a number glued to letters is a number with a unit
_LEXEME = re.compile(
    r"""('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")"""
    r"""|(?<![\w.])(\d+(?:\.\d+)?)([A-Za-z]+)\b"""
)

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_ARITH: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_CONSTANTS = {"true": True, "false": False, "none": None, "null": None}
_FORBIDDEN = {
    ast.Call: "function calls",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.NamedExpr: "assignments",
    ast.IfExp: "if-expressions",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.Dict: "dictionaries",
    ast.Starred: "starred expressions",
    ast.JoinedStr: "f-strings",
    ast.Await: "await",
}


def _unit_value(number: str, unit: str) -> str:
    value = float(number)
    lowered = unit.lower()
    if lowered in _DURATION_UNITS and unit not in ("B",):
        return repr(value * _DURATION_UNITS[lowered])
    factor = unit_bytes(unit)
    if factor is None:
        raise ExprError(
            f"unknown unit {unit!r} in {number}{unit} (sizes: GB, TB, TiB…; "
            "durations: min, h, d, w)"
        )
    scaled = value * factor
    return str(int(scaled)) if scaled == int(scaled) else repr(scaled)


def _expand_units(source: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        return _unit_value(m.group(2), m.group(3))

    return _LEXEME.sub(sub, source)


class Expr:
    """A compiled expression: ``names`` are the fields it reads; ``evaluate`` runs it."""

    __slots__ = ("_tree", "names", "source")

    def __init__(self, source: str) -> None:
        if not isinstance(source, str) or not source.strip():
            raise ExprError("an expression must be a non-empty string")
        if len(source) > 500:
            raise ExprError("an expression may be at most 500 characters long")
        self.source = source.strip()
        try:
            tree = ast.parse(_expand_units(self.source), mode="eval")
        except SyntaxError as exc:
            raise ExprError(f"cannot parse {self.source!r}: {exc.msg}") from None
        self.names: frozenset[str] = frozenset(_check(tree.body))
        self._tree = tree.body

    def __repr__(self) -> str:
        return f"Expr({self.source!r})"

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value of the expression; a field without a value is ``None``."""
        return _eval(self._tree, values)

    def test(self, values: Mapping[str, Any]) -> bool:
        """True when the condition holds; comparisons with missing values are simply false."""
        return bool(self.evaluate(values))


def _check(node: ast.AST) -> set[str]:
    """Reject everything outside the language; return the field names used."""
    for kind, what in _FORBIDDEN.items():
        if isinstance(node, kind):
            raise ExprError(f"{what} are not allowed in conditions")
    names: set[str] = set()
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExprError(f"the name {node.id!r} is not allowed")
        if node.id.lower() not in _CONSTANTS:
            names.add(node.id)
        return names
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool) and node.value is not None:
            raise ExprError(f"the literal {node.value!r} is not allowed")
        return names
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            names |= _check(value)
        return names
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
            raise ExprError("only 'not' and a minus sign are allowed as unary operators")
        return _check(node.operand)
    if isinstance(node, ast.Compare):
        for op in node.ops:
            if type(op) not in _COMPARE:
                raise ExprError("'is' comparisons are not allowed; use == or !=")
        names |= _check(node.left)
        for comp in node.comparators:
            names |= _check(comp)
        return names
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise ExprError("only + - * / are allowed as arithmetic")
        return _check(node.left) | _check(node.right)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        for elt in node.elts:
            names |= _check(elt)
        return names
    raise ExprError(f"{type(node).__name__} is not allowed in conditions")


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        lowered = node.id.lower()
        if node.id not in values and lowered in _CONSTANTS:
            return _CONSTANTS[lowered]
        return values.get(node.id)
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            result: Any = True
            for value in node.values:
                result = _eval(value, values)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = _eval(value, values)
            if result:
                return result
        return result
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        if isinstance(node.op, ast.Not):
            return not operand
        if operand is None:
            return None
        try:
            return -operand if isinstance(node.op, ast.USub) else +operand
        except TypeError:
            return None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, values)
            try:
                ok = _COMPARE[type(op)](left, right)
            except TypeError:  # a missing value or mismatched types: the condition fails
                return False
            if not ok:
                return False
            left = right
        return True
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, values), _eval(node.right, values)
        try:
            return _ARITH[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError):
            return None
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [_eval(e, values) for e in node.elts]
    raise ExprError(f"{type(node).__name__} is not allowed")  # unreachable after _check
