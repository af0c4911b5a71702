"""Named actions that workflows run when a request enters a state (``on_enter`` in the YAML).

Skills register actions at setup (``app.actions.add("create_vm", func, owner=skill)``) and lose
them when unloaded (``remove_owner``); an installed package may declare one in the
``quartermaster.actions`` entry-point group instead. An action gets an ``ActionRun`` and returns
an ``ActionResult``, which the workflow records in the request's history and posts back.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot import plugins

if TYPE_CHECKING:
    from bot.app import Application
    from bot.providers import Progress
    from bot.storage.models import Request, User

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action reports: ``text`` is shown to people, ``data`` is kept in the history."""

    ok: bool = True
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActionRun:
    """Everything an action needs: the request that entered ``state``, who moved it, and a
    ``progress`` callback that edits one status message for the requester."""

    app: Application
    request: Request
    actor: User | None
    state: str
    progress: Progress


Action = Callable[[ActionRun], Awaitable[ActionResult]]


class ActionRegistry:
    """Actions by name; an entry of the ``quartermaster.actions`` group is the fallback."""

    def __init__(self) -> None:
        self._actions: dict[str, tuple[Action, str]] = {}

    def add(self, name: str, func: Action, owner: str) -> None:
        current = self._actions.get(name)
        if current is not None and current[1] != owner:
            raise ValueError(f"action {name!r} is already registered by {current[1]}")
        self._actions[name] = (func, owner)

    def remove_owner(self, owner: str) -> list[str]:
        """Forget every action ``owner`` registered (its skill was unloaded); returns names."""
        gone = [n for n, (_, o) in self._actions.items() if o == owner]
        for name in gone:
            del self._actions[name]
        return gone

    def names(self) -> set[str]:
        return set(self._actions) | set(plugins.declared(plugins.ACTIONS))

    def get(self, name: str) -> Action | None:
        """The action called ``name``, or None; a declared plug-in that fails to import raises
        ``PluginError`` (its message says which package and why)."""
        found = self._actions.get(name)
        if found is not None:
            return found[0]
        if name not in plugins.declared(plugins.ACTIONS):
            return None
        func: Action = plugins.load(plugins.ACTIONS, name)
        return func
