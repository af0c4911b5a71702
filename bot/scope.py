"""A skill's scoped registrar: everything a skill adds at setup is owned by it and removed with it.

``@skill.setup`` receives a ``SkillScope``. Middleware, services, webhook routes, outbound filters,
observers and workflow actions added through it are undone in reverse order when the skill is
unloaded or replaced (or when its setup fails half-way), so skills keep no module globals to
protect themselves and a reload never leaves a stale registration behind.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from bot.services import ServiceKey

if TYPE_CHECKING:
    from bot.app import Application
    from bot.config import Settings
    from bot.middleware import Middleware
    from bot.webhooks import WebhookHandler

log = logging.getLogger(__name__)

T = TypeVar("T")
Undo = Callable[[], Any]  # may return an awaitable, which is awaited


class SkillScope:
    """The registrar one skill's setup uses; ``close()`` undoes what it registered (LIFO)."""

    def __init__(self, app: Application, skill: str) -> None:
        self.app = app
        self.skill = skill
        self._undo: list[tuple[str, Undo]] = []
        self.closed = False

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def _own(self, what: str, undo: Undo) -> None:
        if self.closed:
            raise RuntimeError(f"skill {self.skill}: its scope is closed (it was unloaded)")
        self._undo.append((what, undo))

    # -- what a skill can add ------------------------------------------------------------------
    def use(self, middleware: Middleware, *, overheard: bool = False) -> None:
        """Inbound middleware before routing (``overheard``: also sees unaddressed chatter)."""
        self.app.use(middleware, overheard=overheard)
        self._own(
            f"middleware {getattr(middleware, '__name__', middleware)!s}",
            lambda: self.app.unuse(middleware),
        )

    def provide(self, key: ServiceKey[T], value: T) -> None:
        """Offer a service to other skills; withdrawn with this skill (if still the one set)."""
        self.app.services[key] = value

        def undo() -> None:
            if self.app.services.get(key) is value:
                del self.app.services[key]

        self._own(f"service {key.name}", undo)

    def add_webhook(
        self, name: str, handler: WebhookHandler, *, methods: Iterable[str] = ("POST",)
    ) -> str:
        """Serve ``handler`` at ``/hooks/<skill>/<name>``; returns that path."""
        path = self.app.webhooks.add(self.skill, name, handler, methods=methods)
        self._own(f"webhook {path}", lambda: self.app.webhooks.remove(self.skill, name))
        return path

    def add_outbound_filter(self, func: Callable[[str], str]) -> None:
        """Rewrite every outgoing text (e.g. redact something this skill knows is secret)."""
        self.app.add_outbound_filter(func)
        self._own("outbound filter", lambda: self.app.remove_outbound_filter(func))

    def add_observer(self, observer: Any) -> None:
        """Watch something periodically (see ``bot.observers``); stops with this skill."""
        self.app.observers.add(observer, owner=self.skill)
        self._own(
            f"observer {getattr(observer, 'name', observer)}",
            lambda: self.app.observers.remove_owner(self.skill),
        )

    def add_action(self, name: str, func: Any) -> None:
        """A workflow action a request type can run on entering a state (``on_enter``)."""
        self.app.actions.add(name, func, owner=self.skill)
        self._own(f"action {name}", lambda: self.app.actions.remove_owner(self.skill))

    def add_startup_check(self, check: Callable[[], Awaitable[None]]) -> None:
        """A condition the bot must not run in (checked once at start, before any platform
        connects); it raises ``StartupRefused`` saying what to do."""
        self.app.startup_checks.append(check)

        def undo() -> None:
            if check in self.app.startup_checks:
                self.app.startup_checks.remove(check)

        self._own("startup check", undo)

    def on_close(self, callback: Undo) -> None:
        """Run ``callback`` when the skill is unloaded, after nothing newer was undone."""
        self._own("close callback", callback)

    # -- undo ------------------------------------------------------------------------------------
    async def close(self) -> None:
        """Undo every registration, newest first; a failing undo is logged, the rest still run."""
        self.closed = True
        while self._undo:
            what, undo = self._undo.pop()
            try:
                result = undo()
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("skill %s: undoing its %s failed", self.skill, what)

    @property
    def registered(self) -> list[str]:
        """What is currently owned, oldest first (for diagnostics and tests)."""
        return [what for what, _ in self._undo]
