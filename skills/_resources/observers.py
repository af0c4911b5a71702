"""The observers of VMs (filled in below)."""

from __future__ import annotations

from bot.scope import SkillScope


def register_observers(scope: SkillScope) -> None:
    return None
