"""The per-turn context a handler receives: who, what, where, and how to answer.

Handlers get everything through ``ctx`` (no globals, no injection by parameter name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot.conversations import ConversationKey
from bot.errors import UserError
from bot.events import Choice, Event, Interaction, Message, PostedRef
from bot.services import SECRETS

if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.app import Application
    from bot.skill import HandlerSpec
    from bot.storage.models import User
    from nlu import ParseResult


class Context:
    __slots__ = (
        "_conversation",
        "adapter",
        "app",
        "confirmed",
        "event",
        "match",
        "parse",
        "replies",
        "spec",
    )

    def __init__(self, app: Application, adapter: Adapter, event: Event) -> None:
        self.app = app
        self.adapter = adapter
        self.event = event
        self.spec: HandlerSpec | None = None
        self.match: re.Match[str] | None = None
        self.parse: ParseResult | None = None
        self.replies = 0
        #: a plain-language turn the person has confirmed (``bot.confirm``): it may act
        self.confirmed = False
        self._conversation: ConversationKey | None = None

    # -- who and where -------------------------------------------------------------------------
    @property
    def message(self) -> Message:
        if not isinstance(self.event, Message):
            raise TypeError("this turn is a button click, not a message")
        return self.event

    @property
    def interaction(self) -> Interaction:
        if not isinstance(self.event, Interaction):
            raise TypeError("this turn is a message, not a button click")
        return self.event

    @property
    def text(self) -> str:
        return self.event.text if isinstance(self.event, Message) else self.event.value

    @property
    def platform(self) -> str:
        return self.event.platform

    @property
    def user_id(self) -> str:
        return self.event.user_id

    @property
    def user_name(self) -> str:
        return self.event.user_name

    @property
    def user_key(self) -> str:
        return self.event.user_key

    @property
    def channel(self) -> str:
        return self.event.channel

    @property
    def direct(self) -> bool:
        return self.event.direct

    @property
    def roles(self) -> frozenset[str]:
        return self.app.roles.roles_of(self.user_key)

    def has_role(self, role: str | None) -> bool:
        return self.app.roles.has(self.user_key, role)

    # -- what was understood -------------------------------------------------------------------
    @property
    def intent(self) -> str | None:
        return self.parse.intent.name if self.parse else None

    def entities(self, name: str) -> list[Any]:
        """The values of every ``name`` entity the NLU found in this message, in order."""
        return self.parse.values(name) if self.parse else []

    def entity(self, name: str, default: Any = None) -> Any:
        found = self.entities(name)
        return found[0] if found else default

    # -- answering -----------------------------------------------------------------------------
    async def reply(self, text: str, *, choices: Sequence[Choice] = ()) -> PostedRef:
        """Answer where the user spoke: in the DM, or in the thread of the channel message."""
        self.replies += 1
        text = self.app.outbound(text)
        ev = self.event
        if isinstance(ev, Message):
            return await self.adapter.reply(ev, text, choices=choices)
        return await self.adapter.send(ev.channel, text, thread=ev.thread, choices=choices)

    async def reply_private(self, text: str) -> PostedRef:
        """Answer only the user, e.g. for refusals in a busy channel: in a DM as usual, else as
        the platform does it (a DM, or a message only they see: ``Adapter.reply_private``)."""
        if self.direct:
            return await self.reply(text)
        self.replies += 1
        return await self.adapter.reply_private(self.event, self.app.outbound(text))

    async def dm(
        self, text: str, *, user_id: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Send a direct message to this user, or to another user of the same platform."""
        self.replies += 1
        return await self.adapter.send_dm(
            user_id or self.user_id, self.app.outbound(text), choices=choices
        )

    async def post(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        self.replies += 1
        return await self.adapter.send(
            channel, self.app.outbound(text), thread=thread, choices=choices
        )

    # -- dialogue state ------------------------------------------------------------------------
    @property
    def conversation_key(self) -> ConversationKey:
        """The conversation this turn belongs to: the event's own, unless the router re-targeted
        it (a click on a question answers the conversation that asked it)."""
        return self._conversation or self.event.conversation_key

    def retarget(self, key: ConversationKey) -> None:
        """Make this turn part of the conversation ``key`` (the same user's, by construction)."""
        if key.platform != self.platform or key.user != self.user_id:
            raise ValueError("a turn can only join a conversation of its own user")
        self._conversation = key

    @property
    def state(self) -> dict[str, Any] | None:
        return self.app.conversations.peek(self.conversation_key)

    async def expect(self, followup_id: str, data: dict[str, Any] | None = None) -> None:
        """Route this user's next message in this conversation to ``@skill.followup(id)``."""
        await self.app.conversations.save(
            self.conversation_key, {"followup": followup_id, "data": data or {}}
        )

    async def done(self) -> None:
        """Forget the dialogue state of this conversation."""
        await self.app.conversations.clear(self.conversation_key)

    # -- credentials ---------------------------------------------------------------------------
    async def secret(self, name: str) -> Any:
        """This user's stored secret ``name`` (a ``credentials.Secret``), for this skill; the use
        is audited. Raises a ``UserError`` the user can act on when it is missing.

        The owner is always this turn's user and the skill the handler's, so neither can be
        mixed up or spoofed from input; the vault is whatever installed itself as ``SECRETS``."""
        source = self.app.services.get(SECRETS)
        if source is None:
            raise UserError(
                f"The vault isn't available right now, so I can't use your {name} "
                "secret; an admin can see why in my log."
            )
        skill = self.spec.skill if self.spec is not None else "unknown"
        return await source.secret_for_user(self.user_key, name, skill=skill)

    # -- records -------------------------------------------------------------------------------
    async def db_user(self) -> User:
        """This user's database row, created on first need (not on every message)."""
        return await self.app.users.ensure(self.platform, self.user_id, self.user_name)
