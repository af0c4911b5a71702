"""The decisions every platform needs before the dispatcher, made once in the core.

Adapters only translate: they mark the bot's own echoes (``from_self``) and list each delivery's
identities (``delivery_ids``). Here, in order: own echoes are dropped; the event is counted;
channel chatter the bot was not asked to answer is dropped (unless some middleware overhears
channels, then it goes on unclaimed); and a delivery seen before (a platform retry, a replay
after a reconnect, the same message as two events) is dropped. Stages are ``async def
stage(event, call_next)``, bound into one chain like ``bot.middleware``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol

from bot.dedupe import Deduplicator
from bot.events import Event, Message
from bot.stats import Stats

log = logging.getLogger(__name__)

Deliver = Callable[[Event], Awaitable[None]]


class Stage(Protocol):
    def __call__(self, event: Event, call_next: Deliver) -> Awaitable[None]: ...


def compose(stages: Sequence[Stage], endpoint: Deliver) -> Deliver:
    handler = endpoint
    for stage in reversed(stages):
        handler = partial(stage, call_next=handler)
    return handler


class Inbound:
    """The stages, over the Application's counters, dedupe and addressed-or-pending test."""

    def __init__(
        self,
        stats: Stats,
        dedupe: Deduplicator,
        *,
        overhears: Callable[[Message], bool],
        watched: Callable[[], bool],
    ) -> None:
        self.stats = stats
        self.dedupe = dedupe
        self.overhears = overhears  # chatter: neither addressed nor answering a question
        self.watched = watched  # does some middleware want to see chatter?
        self.echoes = 0
        self.duplicates = 0

    def chain(self, endpoint: Deliver) -> Deliver:
        return compose(
            [
                self.drop_echoes,
                self.clean_text,
                self.count,
                self.drop_chatter,
                self.drop_duplicates,
            ],
            endpoint,
        )

    async def clean_text(self, event: Event, call_next: Deliver) -> None:
        """Text nothing downstream can store or show: NUL characters (PostgreSQL refuses them)
        and lone surrogates (not encodable) are taken out once, at the edge."""
        if isinstance(event, Message):
            event.text = storable(event.text)
        else:
            event.value = storable(event.value)
        await call_next(event)

    async def drop_echoes(self, event: Event, call_next: Deliver) -> None:
        if event.from_self:
            self.echoes += 1
            return
        await call_next(event)

    async def count(self, event: Event, call_next: Deliver) -> None:
        if isinstance(event, Message):
            received = self.stats.received
            received[event.platform] = received.get(event.platform, 0) + 1
        else:
            self.stats.interactions += 1
        await call_next(event)

    def _chatter(self, event: Event) -> bool:
        return isinstance(event, Message) and self.overhears(event)

    async def drop_chatter(self, event: Event, call_next: Deliver) -> None:
        if self._chatter(event) and not self.watched():
            self.stats.ignored += 1
            return
        await call_next(event)

    async def drop_duplicates(self, event: Event, call_next: Deliver) -> None:
        """Only what will be handled is claimed: chatter (kept for overhearing middleware) is
        not, so a busy channel costs no write per message."""
        if (
            event.delivery_ids
            and not self._chatter(event)
            and not await self.dedupe.first_time(*event.delivery_ids)
        ):
            self.duplicates += 1
            log.debug("dropped a duplicate delivery %s", event.delivery_ids[0])
            return
        await call_next(event)


def storable(text: str) -> str:
    """``text`` without NULs, with lone surrogates replaced (U+FFFD): valid UTF-8 everywhere."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = _SURROGATE.sub("\ufffd", text)
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")
