"""The Hubot-style adapter interface: the only place that knows a chat platform's protocol."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.events import Choice, Event, Interaction, Message, PostedRef, UserInfo

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.kv import KeyValueStore
    from bot.stats import Stats


class Host(Protocol):
    """What an adapter may use of the application that runs it, and nothing more.

    ``http`` is the bot's HTTP server when enabled (``add_route(method, path, handler)`` before
    it starts, for callbacks such as buttons and the Events API), else None.
    """

    @property
    def name(self) -> str: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def stats(self) -> Stats: ...
    @property
    def kv(self) -> KeyValueStore: ...
    @property
    def http(self) -> Any: ...

    async def receive(self, message: Message) -> None:
        """Every message the adapter sees (echoes, chatter and repeats included)."""

    async def interact(self, interaction: Interaction) -> None:
        """Every click on a choice the bot offered."""


class Adapter(ABC):
    """Translates one platform's events into ``Message``/``Interaction`` and our replies back.

    Adapters never decide anything: no permission checks, no parsing beyond recognising mentions,
    DMs and threads, no de-duplication or echo filtering (they fill ``delivery_ids`` and
    ``from_self``; the core decides). They call ``host.receive`` / ``host.interact`` and
    implement the outbound calls.
    """

    #: platform name used in user keys (``slack:U123``) and audit records
    platform: str = "abstract"

    def __init__(self, host: Host) -> None:
        self.host = host
        self.connected = False

    @abstractmethod
    async def connect(self) -> None:
        """Connect and start delivering events; returns once connected (reconnects internally)."""

    @abstractmethod
    async def disconnect(self) -> None:
        """Stop delivering events and close connections."""

    @abstractmethod
    async def send(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Post ``text`` to a channel (or into a thread of it)."""

    @abstractmethod
    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Send a direct message, opening the DM channel if needed."""

    @abstractmethod
    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """Replace the text (and choices) of a message the bot posted."""

    @abstractmethod
    async def delete(self, ref: PostedRef) -> None:
        """Delete a message the bot posted (or, where allowed, a user's message)."""

    async def reply(
        self, message: Message, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Answer a message where it was said: in the DM, or in the thread of a channel message."""
        if message.direct:
            return await self.send(message.channel, text, thread=message.thread, choices=choices)
        return await self.send(
            message.channel, text, thread=message.thread or message.id, choices=choices
        )

    async def reply_private(self, event: Event, text: str) -> PostedRef:
        """Answer only ``event``'s user: a DM here; platforms with messages only one user sees
        in a channel (Slack's ephemeral messages) override this."""
        return await self.send_dm(event.user_id, text)

    async def user_info(self, user_id: str) -> UserInfo:
        """Display name and e-mail of a user; platforms override with a cached look-up."""
        return UserInfo(id=user_id, name=user_id)

    def mention(self, user_id: str) -> str:
        """How to tag a user in text on this platform."""
        return f"@{user_id}"
