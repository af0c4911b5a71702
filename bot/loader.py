"""Importing skill modules, and reloading them atomically with per-module rollback.

Modeled on discord.py's ``reload_extension``: snapshot ``sys.modules``, import afresh, and put the
old module back for anything that fails, so a typo in one skill never takes the others down.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from bot.registry import Registry, RegistryConflict
from bot.skill import Skill


@dataclass
class LoadReport:
    loaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # module -> why
    kept_previous: list[str] = field(default_factory=list)  # failed, old version still runs
    removed: list[str] = field(default_factory=list)  # gone from disk or disabled

    @property
    def ok(self) -> bool:
        return not self.failed


def describe_failure(exc: BaseException) -> str:
    """One line an admin can act on: the exception and where in the skill's file it happened."""
    if isinstance(exc, SyntaxError):
        where = Path(exc.filename or "?").name
        return f"SyntaxError: {exc.msg} ({where}, line {exc.lineno})"
    frames = traceback.extract_tb(exc.__traceback__)
    skill_frames = [f for f in frames if "importlib" not in f.filename]
    where = ""
    if skill_frames:
        last = skill_frames[-1]
        where = f" ({Path(last.filename).name}, line {last.lineno})"
    text = str(exc) or "no details"
    return f"{type(exc).__name__}: {text}{where}"


def _family(name: str) -> dict[str, ModuleType]:
    return {k: m for k, m in sys.modules.items() if k == name or k.startswith(name + ".")}


class SkillLoader:
    """Knows which modules are skills and which module objects are currently in use."""

    def __init__(self, packages: list[str], disabled: list[str] | None = None) -> None:
        self.packages = list(packages)
        self.disabled = set(disabled or ())
        self.modules: dict[str, ModuleType] = {}
        self.skills: dict[str, list[Skill]] = {}
        #: modules, skills and ``sys.modules`` families as they were before the last ``load``
        self._previous: tuple[
            dict[str, ModuleType], dict[str, list[Skill]], dict[str, dict[str, ModuleType]]
        ] = ({}, {}, {})

    def _discover(self, package: ModuleType) -> list[str]:
        names = []
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            short = info.name.rsplit(".", 1)[1]
            if short.startswith("_") or info.name in self.disabled or short in self.disabled:
                continue
            names.append(info.name)
        return sorted(names)

    @staticmethod
    def _skills_of(module: ModuleType) -> list[Skill]:
        found = [v for v in vars(module).values() if isinstance(v, Skill)]
        if not found:
            raise LookupError(f"{module.__name__} defines no Skill (expected `skill = Skill(...)`)")
        return found

    def load(self) -> tuple[Registry, LoadReport]:
        """(Re)import every skill module; failures keep the previous version where there is one."""
        report = LoadReport()
        snapshot = {p: _family(p) for p in self.packages}
        new_modules: dict[str, ModuleType] = {}
        new_skills: dict[str, list[Skill]] = {}
        for pkg_name in self.packages:
            for name in snapshot[pkg_name]:
                sys.modules.pop(name, None)
            importlib.invalidate_caches()
            try:
                package = importlib.import_module(pkg_name)
                names = self._discover(package)
            except Exception as exc:
                report.failed[pkg_name] = describe_failure(exc)
                sys.modules.update(snapshot[pkg_name])
                for name, module in self.modules.items():
                    if name.startswith(pkg_name + "."):
                        new_modules[name] = module
                        new_skills[name] = self.skills[name]
                        report.kept_previous.append(name)
                continue
            for name in names:
                try:
                    module = importlib.import_module(name)
                    skills = self._skills_of(module)
                except Exception as exc:
                    report.failed[name] = describe_failure(exc)
                    for key in list(_family(name)):
                        sys.modules.pop(key, None)
                    if name in self.modules:
                        sys.modules.update(_family_from(snapshot[pkg_name], name))
                        new_modules[name] = self.modules[name]
                        new_skills[name] = self.skills[name]
                        report.kept_previous.append(name)
                    continue
                new_modules[name] = module
                new_skills[name] = skills
                report.loaded.append(name)
        report.removed = sorted(set(self.modules) - set(new_modules))
        try:
            registry = Registry.build(s for skills in new_skills.values() for s in skills)
        except RegistryConflict as exc:
            for pkg_name, family in snapshot.items():
                for name in _family(pkg_name):
                    sys.modules.pop(name, None)
                sys.modules.update(family)
            report.failed["(registry)"] = str(exc)
            report.loaded.clear()
            report.kept_previous = sorted(self.modules)
            return Registry.build(s for skills in self.skills.values() for s in skills), report
        self._previous = (self.modules, self.skills, snapshot)
        self.modules, self.skills = new_modules, new_skills
        return registry, report

    def module_of(self, skill: Skill) -> str | None:
        """The module that declared ``skill`` in the current load."""
        for name, skills in self.skills.items():
            if any(s is skill for s in skills):
                return name
        return None

    def rollback(self, name: str) -> list[Skill]:
        """Put module ``name`` back as it was before the last ``load`` (its setup failed).

        Returns the previous version's skills (empty when the module is new), which the caller
        sets up again; the module's fresh objects leave ``sys.modules``.
        """
        modules, skills, snapshot = self._previous
        for key in list(_family(name)):
            sys.modules.pop(key, None)
        for family in snapshot.values():
            sys.modules.update(_family_from(family, name))
        if name in modules:
            self.modules[name] = modules[name]
            self.skills[name] = skills[name]
            return skills[name]
        self.modules.pop(name, None)
        self.skills.pop(name, None)
        return []

    def current_skills(self) -> list[Skill]:
        return [s for skills in self.skills.values() for s in skills]


def _family_from(snapshot: dict[str, ModuleType], name: str) -> dict[str, ModuleType]:
    return {k: m for k, m in snapshot.items() if k == name or k.startswith(name + ".")}
