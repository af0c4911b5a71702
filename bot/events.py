"""The normalised event model every adapter translates to and from.

Adapters only translate; dispatch, permissions, dialogue and audit work on these types, so every
platform behaves the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.conversations import ConversationKey


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Turn:
    """Identity shared by messages and clicks: who, and which conversation they belong to."""

    __slots__ = ()
    platform: str
    user_id: str
    channel: str
    thread: str | None

    @property
    def user_key(self) -> str:
        """Stable identity across the process: ``platform:user_id`` (what roles are granted to)."""
        return f"{self.platform}:{self.user_id}"

    @property
    def conversation_key(self) -> ConversationKey:
        """Dialogue state is per user and per conversation (DM, channel, or thread)."""
        return ConversationKey(self.platform, self.channel, self.thread, self.user_id)


@dataclass(slots=True)
class Message(_Turn):
    """One chat message addressed to (or overheard by) the bot."""

    platform: str
    user_id: str
    user_name: str
    channel: str
    text: str
    direct: bool = False
    mentioned: bool = False
    thread: str | None = None
    id: str | None = None
    time: datetime = field(default_factory=utcnow)
    edited: bool = False
    raw: Any = None
    #: every identity the platform gives this delivery (an event id, channel+ts, a post id …):
    #: the core drops a delivery any of whose ids it has handled before
    delivery_ids: tuple[str, ...] = ()
    #: the bot's own message echoed back by the platform (the core drops it)
    from_self: bool = False

    @property
    def addressed(self) -> bool:
        """Whether the bot should answer: always in a DM, only when mentioned in a channel."""
        return self.direct or self.mentioned


@dataclass(slots=True)
class Interaction(_Turn):
    """A click on a button (or a numbered choice in the shell) the bot offered earlier."""

    platform: str
    user_id: str
    user_name: str
    channel: str
    action: str
    value: str = ""
    message_id: str | None = None
    thread: str | None = None
    direct: bool = False
    time: datetime = field(default_factory=utcnow)
    raw: Any = None
    delivery_ids: tuple[str, ...] = ()
    from_self: bool = False


Event = Message | Interaction


@dataclass(frozen=True, slots=True)
class Choice:
    """An option offered with a message: a button on platforms, a numbered line in the shell."""

    label: str
    action: str
    value: str = ""
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True, slots=True)
class PostedRef:
    """Where a message the bot posted lives, so it can be updated or deleted later."""

    platform: str
    channel: str
    id: str
    thread: str | None = None
    #: seen only by one user (Slack's ephemeral messages): it cannot be updated or deleted
    ephemeral: bool = False

    def to_dict(self) -> dict[str, str | None]:
        return {
            "platform": self.platform,
            "channel": self.channel,
            "id": self.id,
            "thread": self.thread,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PostedRef:
        return cls(raw["platform"], raw["channel"], raw["id"], raw.get("thread"))


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What a platform tells about a user (cached by adapters)."""

    id: str
    name: str
    email: str | None = None
    is_bot: bool = False
