"""``TestBot``: start a real Application on a real database with an in-memory adapter.

    async with TestBot.create(tmp_path) as bot:
        replies = await bot.say("alice", "ping")
        assert replies[0].text == "pong"

``say``/``click`` wait for the background work the turn started (copy updates, DMs, hooks), so
tests see what the user would see a moment later; ``wait=False`` returns right after the answer.
Pass ``clock=FakeClock(...)`` to move time instead of sleeping.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.adapters.memory import MemoryAdapter, Sent, dm_channel
from bot.app import Application
from bot.clock import Clock
from bot.config import Settings
from bot.events import Choice, Interaction, Message


class TestAdapter(MemoryAdapter):
    __test__ = False  # not a pytest test class
    platform = "test"


class TestBot:
    __test__ = False

    def __init__(
        self,
        settings: Settings,
        *,
        load_nlu: bool = False,
        adapter_class: type[TestAdapter] | None = None,
        clock: Clock | None = None,
        wait_for_nlu: bool = True,
    ) -> None:
        self.settings = settings
        #: start returns once the model is loaded, so a test's first message is not answered
        #: by the "still learning" notice (tests of that notice pass False)
        self.wait_for_nlu = wait_for_nlu
        self.adapter_class = adapter_class or TestAdapter
        self.app = Application(
            settings, adapters=[self._make_adapter], load_nlu=load_nlu, clock=clock
        )
        self.adapter: TestAdapter | None = None
        self._ids = itertools.count(1)

    @classmethod
    def create(
        cls,
        home: Path,
        *,
        database_url: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        load_nlu: bool = False,
        clock: Clock | None = None,
        adapter_class: type[TestAdapter] | None = None,
        wait_for_nlu: bool = True,
    ) -> TestBot:
        """Settings for a throw-away bot: SQLite under ``home`` unless ``database_url`` is given."""
        raw: dict[str, Any] = {
            "adapters": {"shell": {"enabled": False}},
            "database": {"url": database_url or f"sqlite://{home / 'test.sqlite3'}"},
            "rate_limit": {"enabled": False},
        }
        for key, value in (overrides or {}).items():
            node = raw
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        return cls(
            Settings.model_validate(raw),
            load_nlu=load_nlu,
            clock=clock,
            adapter_class=adapter_class,
            wait_for_nlu=wait_for_nlu,
        )

    def _make_adapter(self, app: Application) -> TestAdapter:
        self.adapter = self.adapter_class(app)
        return self.adapter

    async def __aenter__(self) -> TestBot:
        await self.app.start()
        if self.wait_for_nlu:
            await self.app.understanding.ready()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.app.stop()

    @property
    def sent(self) -> list[Sent]:
        assert self.adapter is not None
        return self.adapter.sent

    async def say(
        self,
        user: str,
        text: str,
        *,
        channel: str | None = None,
        mention: bool | None = None,
        thread: str | None = None,
        wait: bool = True,
    ) -> list[Sent]:
        """Say ``text`` as ``user`` (DM unless ``channel``); returns what the bot sent meanwhile
        (with ``wait``, also what the turn's background work sent)."""
        direct = channel is None
        msg = Message(
            "test",
            user,
            user,
            channel or dm_channel(user),
            text,
            direct=direct,
            mentioned=(not direct) if mention is None else mention,
            thread=thread,
            id=f"t{next(self._ids)}",
        )
        start = len(self.sent)
        await self.app.process(msg)
        if wait:
            await self.app.background.idle()
        return self.sent[start:]

    async def click(
        self, user: str, sent: Sent, label: str | int, *, wait: bool = True
    ) -> list[Sent]:
        """Click a choice of a posted message, by label or 1-based number."""
        choice: Choice
        if isinstance(label, int):
            choice = sent.choices[label - 1]
        else:
            matches = [c for c in sent.choices if c.label.lower() == label.lower()]
            if not matches:
                raise AssertionError(f"no choice {label!r} in {sent.labels}")
            choice = matches[0]
        event = Interaction(
            "test",
            user,
            user,
            sent.channel,
            choice.action,
            choice.value,
            message_id=sent.ref.id,
            thread=sent.thread,
            direct=sent.dm_to is not None,
        )
        start = len(self.sent)
        await self.app.process(event)
        if wait:
            await self.app.background.idle()
        return self.sent[start:]

    def dms_to(self, user: str) -> list[Sent]:
        return [s for s in self.sent if s.dm_to == user]

    async def grant(self, user: str, role: str) -> None:
        await self.app.roles.grant(f"test:{user}", role, by="test", source="cli")
