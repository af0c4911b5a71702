"""The immutable lookup tables dispatch uses, built from the loaded skills in one go.

Reload builds a new ``Registry`` and swaps it in with one assignment, so a message is always
routed by one consistent set of handlers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.skill import HandlerSpec, Skill


class RegistryConflict(ValueError):
    """Two skills claim the same intent, action or follow-up id."""


@dataclass
class Registry:
    skills: dict[str, Skill] = field(default_factory=dict)
    commands: list[HandlerSpec] = field(default_factory=list)
    intents: dict[str, HandlerSpec] = field(default_factory=dict)
    actions: dict[str, HandlerSpec] = field(default_factory=dict)
    followups: dict[str, HandlerSpec] = field(default_factory=dict)
    schedules: list[HandlerSpec] = field(default_factory=list)
    fallback: HandlerSpec | None = None

    @classmethod
    def build(cls, skills: Iterable[Skill]) -> Registry:
        reg = cls()
        for skill in skills:
            if skill.name in reg.skills:
                raise RegistryConflict(f"two skills are named {skill.name!r}")
            reg.skills[skill.name] = skill
            for spec in skill.specs:
                reg._add(spec)
        return reg

    def _add(self, spec: HandlerSpec) -> None:
        if spec.kind == "command":
            self.commands.append(spec)
        elif spec.kind == "schedule":
            self.schedules.append(spec)
        elif spec.kind == "fallback":
            if self.fallback is not None:
                raise RegistryConflict(
                    f"both {self.fallback.skill} and {spec.skill} declare a fallback")
            self.fallback = spec
        else:
            table = {"intent": self.intents, "action": self.actions,
                     "followup": self.followups}[spec.kind]
            other = table.get(spec.key)
            if other is not None:
                raise RegistryConflict(
                    f"{spec.kind} {spec.key!r} is claimed by both {other.skill} and {spec.skill}")
            table[spec.key] = spec

    def match_command(self, text: str) -> tuple[HandlerSpec, re.Match[str]] | None:
        for spec in self.commands:
            assert spec.pattern is not None
            m = spec.pattern.fullmatch(text)
            if m is not None:
                return spec, m
        return None

    def help_entries(self) -> list[HandlerSpec]:
        """Handlers that carry help text, commands first then intents, in declaration order."""
        entries = [s for s in self.commands if s.help]
        entries += [s for s in self.intents.values() if s.help]
        return entries
