"""How a skill declares what it handles: one typed record per handler, collected at decoration.

A skill module creates ``skill = Skill("name", "what it is for")`` and decorates coroutines with
``@skill.command``, ``@skill.intent``, ``@skill.action``, ``@skill.followup``, ``@skill.schedule``
or ``@skill.fallback``. The registry reads these records; nothing is stored on the functions.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.checks import Check, has_role

if TYPE_CHECKING:
    from bot.app import Application
    from bot.context import Context
    from bot.scope import SkillScope

Handler = Callable[["Context"], Awaitable[None]]
Job = Callable[["Application"], Awaitable[None]]
Hook = Callable[["SkillScope"], Awaitable[None] | None]
#: "does this follow-up take this message?" — sync and cheap, asked before the handler runs
Accepts = Callable[["Context"], bool]
Kind = Literal["command", "intent", "action", "followup", "schedule", "fallback"]


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a job runs: a crontab expression, or every ``seconds``."""

    cron: str | None = None
    seconds: float | None = None
    timezone: str = "UTC"


@dataclass(slots=True)
class HandlerSpec:
    kind: Kind
    key: str  # the pattern, intent, action id, follow-up id or job name
    func: Any  # Handler for chat handlers, Job for schedules
    skill: str = ""
    role: str | None = None  # the role needed; None = everyone (sugar for has_role)
    checks: tuple[Check, ...] = ()  # all must pass (bot.checks); evaluated before dispatch
    help: str | None = None  # one line for the generated help; None = hidden
    examples: tuple[str, ...] = ()
    pattern: re.Pattern[str] | None = None
    schedule: Schedule | None = None
    audit: bool = True  # False for read-only handlers: nothing to put on record
    accepts: Accepts | None = None  # follow-ups: which messages they take (None = every one)
    when: Accepts | None = None  # intents: taken only when this says so (None = the default)
    interrupts: bool = False  # commands that win even over a pending conversation (help)
    cancelled: str = ""  # follow-ups: what "cancel" says happened (default "OK, cancelled.")

    @property
    def qualname(self) -> str:
        return f"{self.skill}.{getattr(self.func, '__name__', self.key)}"


def _checks(role: str | None, checks: Sequence[Check]) -> tuple[Check, ...]:
    """``role=`` is sugar for ``checks=[has_role(role)]``."""
    return ((has_role(role),) if role else ()) + tuple(checks)


@dataclass
class Skill:
    """A named bundle of handlers plus optional ``setup``/``teardown`` hooks."""

    name: str
    description: str = ""
    specs: list[HandlerSpec] = field(default_factory=list)
    on_setup: Hook | None = None
    on_teardown: Hook | None = None

    def _add(self, spec: HandlerSpec) -> None:
        spec.skill = self.name
        self.specs.append(spec)

    def command(
        self,
        pattern: str,
        *,
        role: str | None = None,
        checks: Sequence[Check] = (),
        help: str | None = None,
        examples: tuple[str, ...] = (),
        flags: int = re.IGNORECASE,
        audit: bool = True,
        interrupts: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Match the whole message (mention stripped) against a regular expression.

        ``interrupts=True`` lets the command win over a pending conversation (like ``help``)."""
        compiled = re.compile(pattern, flags)

        def deco(func: Handler) -> Handler:
            self._add(
                HandlerSpec(
                    "command",
                    pattern,
                    func,
                    role=role,
                    checks=_checks(role, checks),
                    help=help,
                    examples=examples,
                    pattern=compiled,
                    audit=audit,
                    interrupts=interrupts,
                )
            )
            return func

        return deco

    def intent(
        self,
        name: str,
        *,
        role: str | None = None,
        checks: Sequence[Check] = (),
        help: str | None = None,
        examples: tuple[str, ...] = (),
        audit: bool = True,
        when: Accepts | None = None,
    ) -> Callable[[Handler], Handler]:
        """Handle messages the NLU model classifies as ``name`` (see nlu-schema.md).

        Several skills may share an intent ("list my vms" and "show my loans" are both
        ``list_resources``): each narrower one passes ``when=`` (sync, cheap: e.g. "a
        ``resource_id`` entity is present" or "the text mentions a VM"), tried in load order
        before the one default handler without ``when``."""

        def deco(func: Handler) -> Handler:
            self._add(
                HandlerSpec(
                    "intent",
                    name,
                    func,
                    role=role,
                    checks=_checks(role, checks),
                    help=help,
                    examples=examples,
                    audit=audit,
                    when=when,
                )
            )
            return func

        return deco

    def action(
        self, action_id: str, *, role: str | None = None, checks: Sequence[Check] = ()
    ) -> Callable[[Handler], Handler]:
        """Handle clicks on choices offered with ``Choice(action=action_id)``."""

        def deco(func: Handler) -> Handler:
            self._add(
                HandlerSpec("action", action_id, func, role=role, checks=_checks(role, checks))
            )
            return func

        return deco

    def followup(
        self, followup_id: str, *, accepts: Accepts | None = None, cancelled: str = ""
    ) -> Callable[[Handler], Handler]:
        """Handle the next message of a conversation that ``ctx.expect(followup_id)`` armed.

        The follow-up is tried before commands; ``accepts(ctx)`` (sync, cheap) says whether it
        takes this message; one it does not take goes on to commands, the NLU and the fallback.
        ``cancelled`` is what "cancel" answers while it is pending ("Nothing was filed.")."""

        def deco(func: Handler) -> Handler:
            self._add(
                HandlerSpec("followup", followup_id, func, accepts=accepts, cancelled=cancelled)
            )
            return func

        return deco

    def fallback(self, func: Handler) -> Handler:
        """Handle what nothing else matched (and the NLU's ``nlu_fallback``)."""
        self._add(HandlerSpec("fallback", "*", func, audit=False))
        return func

    def schedule(
        self,
        *,
        cron: str | None = None,
        seconds: float | None = None,
        timezone: str = "UTC",
        name: str | None = None,
    ) -> Callable[[Job], Job]:
        """Run a job on a crontab expression or an interval; it receives the application."""
        if (cron is None) == (seconds is None):
            raise ValueError("give exactly one of cron= or seconds=")

        def deco(func: Job) -> Job:
            self._add(
                HandlerSpec(
                    "schedule",
                    name or func.__name__,
                    func,
                    schedule=Schedule(cron, seconds, timezone),
                )
            )
            return func

        return deco

    def setup(self, func: Hook) -> Hook:
        """Called with a ``SkillScope`` after the skill is loaded (and after every reload).

        Whatever it adds through the scope is removed when the skill is unloaded; if it raises,
        what it added is undone and the skill's previous version (if any) keeps running."""
        self.on_setup = func
        return func

    def teardown(self, func: Hook) -> Hook:
        """Called before the skill is unloaded or replaced, before its scope is undone."""
        self.on_teardown = func
        return func
