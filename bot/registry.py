"""The immutable lookup tables dispatch uses, built from the loaded skills in one go.

Reload builds a new ``Registry`` and swaps it in with one assignment, so a message is always
routed by one consistent set of handlers.

Commands are tried in declaration order (skills in load order, then each skill's handlers in
source order). So that this order never silently decides, ``build`` checks every command's
``examples`` and the usage head of its help (when its own pattern matches it): each must be
matched by the command's own pattern and by no earlier command's pattern, else it raises
``RegistryConflict`` naming both handlers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.skill import HandlerSpec, Skill

if TYPE_CHECKING:
    from bot.context import Context


class RegistryConflict(ValueError):
    """Two skills claim the same intent, action or follow-up id, or two command patterns overlap."""


@dataclass
class Registry:
    skills: dict[str, Skill] = field(default_factory=dict)
    commands: list[HandlerSpec] = field(default_factory=list)
    interrupting: list[HandlerSpec] = field(default_factory=list)  # win over a conversation
    #: one handler per intent (its default, else its first narrower one): "is it handled?", help
    intents: dict[str, HandlerSpec] = field(default_factory=dict)
    #: every handler of an intent: the ``when=`` ones in load order, then the default
    intent_routes: dict[str, list[HandlerSpec]] = field(default_factory=dict)
    actions: dict[str, HandlerSpec] = field(default_factory=dict)
    followups: dict[str, HandlerSpec] = field(default_factory=dict)
    schedules: list[HandlerSpec] = field(default_factory=list)
    fallback: HandlerSpec | None = None

    @classmethod
    def build(cls, skills: Iterable[Skill]) -> Registry:
        from bot.confirm import skill as confirm  # the core's own: always there, never reloaded

        reg = cls()
        for skill in [*skills, confirm]:
            if skill.name in reg.skills:
                raise RegistryConflict(f"two skills are named {skill.name!r}")
            reg.skills[skill.name] = skill
            for spec in skill.specs:
                reg._add(spec)
        reg._check_overlaps()
        return reg

    def _check_overlaps(self) -> None:
        for index, spec in enumerate(self.commands):
            assert spec.pattern is not None
            samples = list(spec.examples)
            usage = (spec.help or "").partition(" — ")[0].strip()
            if usage and spec.pattern.fullmatch(usage):  # a usage with notation ([x], a|b) is
                samples.append(usage)  # not a message: nothing to check
            for sample in samples:
                if spec.pattern.fullmatch(sample) is None:
                    raise RegistryConflict(
                        f"{spec.qualname}: its example {sample!r} does not match its own pattern"
                    )
                for earlier in self.commands[:index]:
                    assert earlier.pattern is not None
                    if earlier.pattern.fullmatch(sample):
                        raise RegistryConflict(
                            f"{sample!r} ({spec.qualname}) is taken by the earlier command "
                            f"{earlier.qualname}: make the patterns exclusive"
                        )

    def _add(self, spec: HandlerSpec) -> None:
        if spec.kind == "command":
            self.commands.append(spec)
            if spec.interrupts:
                self.interrupting.append(spec)
        elif spec.kind == "schedule":
            self.schedules.append(spec)
        elif spec.kind == "intent":
            self._add_intent(spec)
        elif spec.kind == "fallback":
            if self.fallback is not None:
                raise RegistryConflict(
                    f"both {self.fallback.skill} and {spec.skill} declare a fallback"
                )
            self.fallback = spec
        else:
            table = {"intent": self.intents, "action": self.actions, "followup": self.followups}[
                spec.kind
            ]
            other = table.get(spec.key)
            if other is not None:
                raise RegistryConflict(
                    f"{spec.kind} {spec.key!r} is claimed by both {other.skill} and {spec.skill}"
                )
            table[spec.key] = spec

    def _add_intent(self, spec: HandlerSpec) -> None:
        routes = self.intent_routes.setdefault(spec.key, [])
        default = next((s for s in routes if s.when is None), None)
        if spec.when is None and default is not None:
            raise RegistryConflict(
                f"intent {spec.key!r} is claimed by both {default.skill} and {spec.skill} "
                "(give the narrower one a when=)"
            )
        if spec.when is None:
            routes.append(spec)
        else:
            routes.insert(len(routes) - (default is not None), spec)
        self.intents[spec.key] = spec if spec.when is None else (default or routes[0])

    def resolve_intent(self, name: str, ctx: Context) -> HandlerSpec | None:
        """The handler for intent ``name`` in this turn: the first narrower one whose ``when``
        takes it, else the default (None when neither)."""
        for spec in self.intent_routes.get(name, ()):
            if spec.when is None or spec.when(ctx):
                return spec
        return None

    def match_command(
        self, text: str, *, interrupting: bool = False
    ) -> tuple[HandlerSpec, re.Match[str]] | None:
        """The first command whose pattern matches all of ``text`` (only those that interrupt a
        conversation when ``interrupting``)."""
        for spec in self.interrupting if interrupting else self.commands:
            assert spec.pattern is not None
            m = spec.pattern.fullmatch(text)
            if m is not None:
                return spec, m
        return None

    def help_entries(self) -> list[HandlerSpec]:
        """Handlers that carry help text, commands first then intents, in declaration order."""
        entries = [s for s in self.commands if s.help]
        entries += [s for routes in self.intent_routes.values() for s in routes if s.help]
        return entries
