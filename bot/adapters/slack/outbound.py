"""What the Slack adapter sends: posts (in parts when long), DMs, ephemeral replies, edits,
deletes and the cached user look-up, all through a paced outbox that waits out 429s.

Text beyond what Slack keeps (40,000 characters; less with buttons, whose text goes into
3,000-character sections of at most 50 blocks) goes out as several messages in order
(``bot.textsplit``); which messages make up one is kept in the key-value store.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import markup
from bot.adapter import Adapter
from bot.adapters.slack.blocks import ATOMIC, escape, render
from bot.adapters.slack.config import SlackSettings
from bot.adapters.slack.events import private_thread
from bot.adapters.slack.startup import error_code, retry_after
from bot.events import Choice, Event, Message, PostedRef, UserInfo
from bot.outbox import Outbox, RateLimited
from bot.textsplit import PartIndex, rewrite, split

log = logging.getLogger(__name__)
T = TypeVar("T")

#: chat.postEphemeral errors after which a private reply goes by DM instead: the user left the
#: channel, or the bot is not in it (or cannot see it)
EPHEMERAL_FALLBACK_ERRORS = frozenset(
    {"user_not_in_channel", "channel_not_found", "not_in_channel"}
)
TEXT_LIMIT = 40_000  # Slack truncates a message's text beyond this
BLOCKS_TEXT_LIMIT = 12_000  # text of a message with buttons: a few sections, well under 50 blocks


class SlackOutbound(Adapter):
    """The outbound half of ``SlackAdapter`` (which sets these attributes up)."""

    client: AsyncWebClient
    settings: SlackSettings
    outbox: Outbox
    parts: PartIndex
    _users: dict[str, tuple[float, UserInfo]]
    _dm_channels: dict[str, str]

    async def _call(self, key: str, request: Callable[[], Awaitable[T]]) -> T:
        """Through the outbox: paced per channel; a 429 the client gave up on is waited out."""

        async def attempt() -> T:
            try:
                return await request()
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    raise RateLimited(retry_after(exc.response.headers)) from None
                raise

        return await self.outbox.call(key, attempt)

    async def send(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Post ``text``; too long for one message, it goes out as several, in order, in the
        same thread, buttons on the last. The ref names the first and stands for all of them
        in ``update`` and ``delete``."""
        chunks = chunk(text, choices)
        ids: list[str] = []
        for index, part in enumerate(chunks):
            last = index == len(chunks) - 1
            channel, ts = await self._post(channel, part, thread, choices if last else ())
            ids.append(ts)
        await self.parts.remember(ids, scope=channel)
        return PostedRef(self.platform, channel, ids[0], thread)

    async def _post(
        self, channel: str, text: str, thread: str | None, choices: Sequence[Choice]
    ) -> tuple[str, str]:
        """One message; (channel, ts) as Slack answers (a user id as channel becomes a DM)."""
        blocks = render(text, choices)
        resp = await self._call(
            channel,
            lambda: self.client.chat_postMessage(
                channel=channel, text=text, thread_ts=thread, blocks=blocks
            ),
        )
        return str(resp.get("channel") or channel), str(resp["ts"])

    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        return await self.send(await self._dm_channel(user_id), text, choices=choices)

    async def reply_private(self, event: Event, text: str) -> PostedRef:
        """Answer only ``event``'s user. In a channel that is an ephemeral message (in the
        original's thread, if it was in one): it appears where they are looking, nobody else
        sees it, and it is gone on reload — the refusals and warnings it carries need no DM
        history. Where Slack cannot show one (the user or the bot is not in the channel) it
        goes by DM; in a DM it is an ordinary reply."""
        if event.direct:
            if isinstance(event, Message):
                return await self.reply(event, text)
            return await self.send(event.channel, text, thread=event.thread)
        thread = private_thread(event)
        try:
            return await self._post_ephemeral(event.channel, event.user_id, text, thread)
        except SlackApiError as exc:
            error = error_code(exc)
            if error not in EPHEMERAL_FALLBACK_ERRORS:
                raise
            log.info(
                "Slack: private reply to %s goes by DM, chat.postEphemeral in %s said %s",
                event.user_id,
                event.channel,
                error,
            )
        return await self.send_dm(event.user_id, text)

    async def _post_ephemeral(
        self, channel: str, user_id: str, text: str, thread: str | None
    ) -> PostedRef:
        """``chat.postEphemeral``, in parts like ``send`` (no buttons: a click on an ephemeral
        message carries no message we could update). The ref is marked ephemeral because Slack
        cannot edit or delete such a message."""
        ids: list[str] = []
        for part in chunk(text, ()):
            resp = await self._call(
                channel,
                functools.partial(
                    self.client.chat_postEphemeral,
                    channel=channel,
                    user=user_id,
                    text=part,
                    thread_ts=thread,
                ),
            )
            ids.append(str(resp.get("message_ts") or ""))
        return PostedRef(self.platform, channel, ids[0], thread, ephemeral=True)

    async def _dm_channel(self, user_id: str) -> str:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            resp = await self._call(
                "conversations.open", lambda: self.client.conversations_open(users=user_id)
            )
            channel = str(resp["channel"]["id"])
            self._dm_channels[user_id] = channel
        return channel

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """Edit the message (every part of one sent in parts: edited, added or deleted as the
        new text needs); buttons stay on the last part. An ephemeral message cannot be edited."""
        if ref.ephemeral:
            log.debug(
                "Slack: not updating ephemeral message %s in %s (Slack cannot)", ref.id, ref.channel
            )
            return
        old = await self.parts.parts(ref.id, scope=ref.channel)

        async def edit(ts: str, part: str, last: bool) -> None:
            blocks = (render(part, choices) if last else None) or []  # [] removes buttons
            await self._call(
                ref.channel,
                lambda: self.client.chat_update(
                    channel=ref.channel, ts=ts, text=part, blocks=blocks
                ),
            )

        async def create(part: str, last: bool) -> str:
            return (await self._post(ref.channel, part, ref.thread, choices if last else ()))[1]

        ids = await rewrite(
            old,
            chunk(text, choices),
            edit=edit,
            create=create,
            remove=lambda ts: self._remove(ref.channel, ts),
        )
        await self.parts.remember(ids, old=old, scope=ref.channel)

    async def delete(self, ref: PostedRef) -> None:
        """Delete the message, and every other part of one that was sent in parts. An ephemeral
        message cannot be deleted (the user dismisses it, or it goes on reload)."""
        if ref.ephemeral:
            log.debug(
                "Slack: not deleting ephemeral message %s in %s (Slack cannot)", ref.id, ref.channel
            )
            return
        ids = await self.parts.parts(ref.id, scope=ref.channel)
        for ts in ids:
            await self._remove(ref.channel, ts)
        await self.parts.remember([], old=ids, scope=ref.channel)

    async def _remove(self, channel: str, ts: str) -> None:
        """``chat.delete``; a message already gone counts as deleted (a repeated delete whose
        first answer was lost, or a user who deleted it first)."""
        try:
            await self._call(channel, lambda: self.client.chat_delete(channel=channel, ts=ts))
        except SlackApiError as exc:
            if error_code(exc) != "message_not_found":
                raise
            log.debug("Slack: message %s in %s was already deleted", ts, channel)

    async def user_info(self, user_id: str) -> UserInfo:
        """Display name and e-mail from ``users.info``, cached; the id when Slack will not say."""
        cached = self._users.get(user_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.settings.user_cache_seconds:
            return cached[1]
        try:
            resp = await self._call("users.info", lambda: self.client.users_info(user=user_id))
        except (SlackApiError, ClientError, OSError, TimeoutError) as exc:
            log.warning("Slack users.info %s failed: %s", user_id, error_code(exc))
            return UserInfo(id=user_id, name=user_id)
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = (
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        info = UserInfo(
            id=user_id,
            name=markup.strip(str(name)),
            email=profile.get("email"),
            is_bot=bool(user.get("is_bot")),
        )
        self._users[user_id] = (now, info)
        return info

    def mention(self, user_id: str) -> str:
        """A marker ``escape`` turns into ``<@U…>``: the only live tag in the bot's text."""
        cached = self._users.get(user_id)
        return markup.mention(self.platform, user_id, f"@{cached[1].name if cached else user_id}")


def chunk(text: str, choices: Sequence[Choice]) -> list[str]:
    """Escaped text in parts Slack keeps whole (escapes and links are never cut)."""
    limit = BLOCKS_TEXT_LIMIT if choices else TEXT_LIMIT
    return split(escape(text), limit, atomic=ATOMIC)
