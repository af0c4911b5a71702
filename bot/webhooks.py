"""Inbound webhooks of skills, served at ``/hooks/<skill>/<name>`` by one dynamic route.

aiohttp freezes its router once the server starts, and skills are set up (and reloaded) while it
runs, so the server has one route that looks the handler up in this table on every request: a
reload that adds, changes or removes a webhook takes effect at once.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

# aiohttp (~0.1 s to import) is needed only once the HTTP server serves a hook; a bot without
# ``http:`` (the shell default) never imports it
if TYPE_CHECKING:
    from aiohttp import web

WebhookHandler: TypeAlias = "Callable[[web.Request], Awaitable[web.StreamResponse]]"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Webhook:
    skill: str
    name: str
    handler: WebhookHandler
    methods: frozenset[str]

    @property
    def path(self) -> str:
        return f"/hooks/{self.skill}/{self.name}"


class WebhookTable:
    """Which skill answers which hook; read on every request, written at skill setup/teardown."""

    def __init__(self) -> None:
        self._hooks: dict[tuple[str, str], Webhook] = {}

    def add(
        self, skill: str, name: str, handler: WebhookHandler, *, methods: Iterable[str] = ("POST",)
    ) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError(f"webhook name {name!r}: use letters, digits, '.', '_' or '-'")
        if (skill, name) in self._hooks:
            raise ValueError(f"skill {skill} already serves a webhook named {name!r}")
        hook = Webhook(skill, name, handler, frozenset(m.upper() for m in methods))
        self._hooks[(skill, name)] = hook
        return hook.path

    def remove(self, skill: str, name: str) -> None:
        self._hooks.pop((skill, name), None)

    def get(self, skill: str, name: str) -> Webhook | None:
        return self._hooks.get((skill, name))

    def __len__(self) -> int:
        return len(self._hooks)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler of ``/hooks/{skill}/{name}``."""
        from aiohttp import web

        hook = self.get(request.match_info["skill"], request.match_info["name"])
        if hook is None:
            raise web.HTTPNotFound(text="no such webhook\n")
        if request.method not in hook.methods:
            raise web.HTTPMethodNotAllowed(request.method, sorted(hook.methods))
        return await hook.handler(request)
