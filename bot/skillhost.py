"""Loading, reloading and unloading skills: atomic per module, with each skill's scope undone.

As discord.py's ``reload_extension``: a replaced skill is torn down first (its teardown hook, then
its ``SkillScope``), then the new version is set up; when the import *or* the setup of a module
fails, what the new setup registered is undone, the module's previous version is put back and set
up again, so it keeps running exactly as before. The registry is swapped in one assignment.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.loader import LoadReport, describe_failure
from bot.registry import Registry
from bot.scope import SkillScope

if TYPE_CHECKING:
    from bot.app import Application
    from bot.skill import Skill

log = logging.getLogger(__name__)


class SkillHost:
    """Owns the running skills' scopes; ``app.registry`` is what it last swapped in."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self._scopes: dict[str, SkillScope] = {}  # skill name -> what its setup registered
        self._lock = asyncio.Lock()  # two admins at once: one after the other

    def scope_of(self, skill: str) -> SkillScope | None:
        return self._scopes.get(skill)

    async def reload(self) -> LoadReport:
        async with self._lock:
            return await self._reload()

    async def _reload(self) -> LoadReport:
        app = self.app
        old = app.registry
        registry, report = app.loader.load()
        for name, skill in old.skills.items():
            if registry.skills.get(name) is not skill:
                await self._unload(skill)
        failed: dict[str, str] = {}
        for name, skill in registry.skills.items():
            if old.skills.get(name) is skill:
                continue
            module = app.loader.module_of(skill) or name
            if module in failed:
                continue
            try:
                await self._setup(skill)
            except Exception as exc:
                failed[module] = f"setup failed: {describe_failure(exc)}"
        for module, why in failed.items():
            await self._roll_back(module, registry, report, why)
        if failed:
            registry = Registry.build(app.loader.current_skills())
        app.registry = registry
        return report

    async def _roll_back(
        self, module: str, registry: Registry, report: LoadReport, why: str
    ) -> None:
        """Undo ``module``'s new version (its skills that did set up) and restore the old one."""
        loader = self.app.loader
        for skill in [s for s in registry.skills.values() if loader.module_of(s) == module]:
            if self._scopes.get(skill.name) is not None:  # a failed setup undid itself
                await self._unload(skill)
        previous = loader.rollback(module)
        report.failed[module] = why
        if module in report.loaded:
            report.loaded.remove(module)
        if previous:
            report.kept_previous.append(module)
        for skill in previous:
            try:
                await self._setup(skill)
            except Exception:
                log.exception("skill %s: setting the previous version up again failed", skill.name)

    async def _setup(self, skill: Skill) -> None:
        """Run ``skill``'s setup with a fresh scope; on failure undo what it registered."""
        scope = SkillScope(self.app, skill.name)
        self._scopes[skill.name] = scope
        if skill.on_setup is None:
            return
        try:
            result = skill.on_setup(scope)
            if asyncio.iscoroutine(result):
                await result
        except BaseException:
            await scope.close()
            self._scopes.pop(skill.name, None)
            raise

    async def _unload(self, skill: Skill) -> None:
        """Teardown hook, then undo the scope; failures are logged, never raised."""
        scope = self._scopes.pop(skill.name, None)
        if skill.on_teardown is not None:
            try:
                result = skill.on_teardown(scope or SkillScope(self.app, skill.name))
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("teardown of skill %s failed", skill.name)
        if scope is not None:
            await scope.close()

    async def unload_all(self) -> None:
        """At stop: every skill, newest first."""
        for skill in reversed(list(self.app.registry.skills.values())):
            await self._unload(skill)
