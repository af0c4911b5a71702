"""An adapter whose 'platform' is this process: what the bot sends is recorded, not transmitted.

The shell adapter prints these records; the test adapter hands them to tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot import markup
from bot.adapter import Adapter, Host
from bot.events import Choice, PostedRef


def dm_channel(user_id: str) -> str:
    return f"dm:{user_id}"


@dataclass
class Sent:
    """One message the bot posted, with its later edits and deletion."""

    ref: PostedRef
    text: str
    choices: tuple[Choice, ...] = ()
    dm_to: str | None = None
    edits: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def channel(self) -> str:
        return self.ref.channel

    @property
    def thread(self) -> str | None:
        return self.ref.thread

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.choices]


class MemoryAdapter(Adapter):
    platform = "memory"

    def __init__(self, host: Host, platform: str | None = None) -> None:
        super().__init__(host)
        if platform:
            self.platform = platform
        self.sent: list[Sent] = []
        self.by_id: dict[str, Sent] = {}
        self.deleted_refs: list[PostedRef] = []  # every delete, also of users' messages
        self._ids = itertools.count(1)

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    def _record(
        self,
        channel: str,
        text: str,
        thread: str | None,
        choices: Sequence[Choice],
        dm_to: str | None,
    ) -> Sent:
        ref = PostedRef(self.platform, channel, self.new_id(), thread)
        sent = Sent(ref, markup.plain(text), tuple(choices), dm_to)
        self.sent.append(sent)
        self.by_id[ref.id] = sent
        self.on_sent(sent)
        return sent

    def new_id(self) -> str:
        """The id of the next posted message (``m1``, ``m2`` … within this adapter's life)."""
        return f"m{next(self._ids)}"

    def on_sent(self, sent: Sent) -> None:
        """Hook for subclasses (the shell prints)."""

    def on_changed(self, sent: Sent) -> None:
        """Hook for subclasses: a posted message was edited or deleted."""

    async def send(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        dm_to = channel[3:] if channel.startswith("dm:") else None
        return self._record(channel, text, thread, choices, dm_to).ref

    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        return self._record(dm_channel(user_id), text, None, choices, user_id).ref

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        sent = self.by_id.get(ref.id)
        if sent is None or sent.deleted:
            raise LookupError(f"no posted message {ref.id}")
        sent.edits.append(sent.text)
        sent.text = markup.plain(text)  # another platform's mention markers read as names
        sent.choices = tuple(choices)
        self.on_changed(sent)

    async def delete(self, ref: PostedRef) -> None:
        self.deleted_refs.append(ref)
        sent = self.by_id.get(ref.id)
        if sent is not None and not sent.deleted:
            sent.deleted = True
            self.on_changed(sent)
