"""Who may use a handler, declared on it (after discord.py's ``check()`` and errbot's ACLs).

A check is a small frozen object: ``check(ctx) -> bool`` answers "may this user run it here?"
(sync, cheap, no I/O) and ``check.describe(ctx)`` says what it needs, in words a refusal can use
("needs the staff role"). The authorize middleware evaluates a handler's checks before dispatch
and ``help`` evaluates the same checks in dry-run, so help never advertises what is then refused.

Code names *groups* (``in_group("request_handlers")``); the configuration (``roles.groups``)
names the roles in each group, so a site changes who may without touching a skill. Checks that
depend on the object (may THIS user approve THIS request) stay with the object's owner (the
workflow engine) and raise ``PermissionDenied`` there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bot.context import Context


@runtime_checkable
class Check(Protocol):
    """A predicate on the turn, with a description for refusals."""

    def __call__(self, ctx: Context) -> bool: ...

    def describe(self, ctx: Context) -> str: ...


def _roles_text(roles: Iterable[str]) -> str:
    names = list(roles)
    if not names:
        return "an admin"
    if len(names) == 1:
        return f"the {names[0]} role"
    return f"one of the roles {', '.join(names[:-1])} or {names[-1]}"


@dataclass(frozen=True, slots=True)
class HasRole:
    role: str

    def __call__(self, ctx: Context) -> bool:
        return ctx.has_role(self.role)

    def describe(self, ctx: Context) -> str:
        return f"needs {_roles_text([self.role])}"


@dataclass(frozen=True, slots=True)
class InGroup:
    """Any role of the configured group ``name`` (``roles.groups`` in the settings)."""

    name: str

    def __call__(self, ctx: Context) -> bool:
        return ctx.app.roles.in_group(ctx.user_key, self.name)

    def describe(self, ctx: Context) -> str:
        return f"needs {_roles_text(ctx.app.roles.group(self.name))}"


@dataclass(frozen=True, slots=True)
class DmOnly:
    def __call__(self, ctx: Context) -> bool:
        return ctx.direct

    def describe(self, ctx: Context) -> str:
        return "works only in a direct message with me"


@dataclass(frozen=True, slots=True)
class AnyOf:
    checks: tuple[Check, ...]

    def __call__(self, ctx: Context) -> bool:
        return any(check(ctx) for check in self.checks)

    def describe(self, ctx: Context) -> str:
        parts = [check.describe(ctx) for check in self.checks]
        if all(p.startswith("needs ") for p in parts):  # "needs A or B", not "needs A or needs B"
            return "needs " + " or ".join(p.removeprefix("needs ") for p in parts)
        return " or ".join(parts)


@dataclass(frozen=True, slots=True)
class AllOf:
    checks: tuple[Check, ...]

    def __call__(self, ctx: Context) -> bool:
        return all(check(ctx) for check in self.checks)

    def describe(self, ctx: Context) -> str:
        return ", and ".join(check.describe(ctx) for check in self.checks)


def has_role(role: str) -> Check:
    """The user holds ``role`` (admins pass every role check)."""
    return HasRole(role)


def in_group(name: str) -> Check:
    """The user holds one of the roles the configuration lists under ``roles.groups.<name>``."""
    return InGroup(name)


def dm_only() -> Check:
    """Only in a direct message (for example where a secret could be shown)."""
    return DmOnly()


def any_of(*checks: Check) -> Check:
    return AnyOf(tuple(checks))


def all_of(*checks: Check) -> Check:
    return AllOf(tuple(checks))


def first_failing(checks: Iterable[Check], ctx: Context) -> Check | None:
    """The first check ``ctx`` does not pass, or None when it may go ahead (all pass)."""
    for check in checks:
        if not check(ctx):
            return check
    return None


def allowed(checks: Iterable[Check], ctx: Context) -> bool:
    """Dry run: would the authorize middleware let this user through?"""
    return first_failing(checks, ctx) is None
