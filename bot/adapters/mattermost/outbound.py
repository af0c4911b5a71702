"""What the Mattermost adapter sends and looks up over REST: posts (in parts when longer than
the server's ``MaxPostSize``), DMs, patches, deletes, buttons, and cached users and channels.

Every call goes through an outbox (posts paced per channel, reads on their own queue) and the
retry policy of ``rest.call``; which posts make up one long message is kept in the key-value
store (``bot.textsplit.PartIndex``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import httpx
from mattermostautodriver import AsyncTypedDriver
from mattermostautodriver.exceptions import (
    InvalidOrMissingParameters,
    MattermostError,
    ResourceNotFound,
)

from bot import markup
from bot.adapter import Adapter
from bot.adapters.mattermost import actions
from bot.adapters.mattermost import events as ev
from bot.adapters.mattermost.config import MattermostSettings
from bot.adapters.mattermost.rest import DEDUPE_WINDOW, RetryPolicy, call, describe
from bot.events import Choice, PostedRef, UserInfo
from bot.outbox import Outbox
from bot.textsplit import PartIndex, rewrite, split

log = logging.getLogger(__name__)
T = TypeVar("T")
ROOT_ID_ERROR = "api.post.create_post.root_id.app_error"
_CHANNEL_ID = _USER_ID = re.compile(r"[a-z0-9]{26}")
#: an ``@`` that would start a mention (the server's rule: ``\B@[[:alnum:]]``, ASCII)
_AT = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
#: ``]`` that closes a Markdown link text or reference: ``[label](url)``, ``[a][b]``, ``[a]: url``
_LINK = re.compile(r"\](?=[(\[:])")
_ZWSP = "\u200b"


class MattermostOutbound(Adapter):
    """The REST half of ``MattermostAdapter`` (which sets these attributes up)."""

    cfg: MattermostSettings
    driver: AsyncTypedDriver
    outbox: Outbox
    reads: Outbox
    retry: RetryPolicy
    parts: PartIndex
    max_post_size: int
    bot_id: str
    bot_name: str
    team_ids: list[str]
    _secret: str
    _click_lock: asyncio.Lock
    _users: dict[str, tuple[float, UserInfo, str]]
    _channels: dict[str, dict[str, Any]]
    _dm_channels: dict[str, str]
    _by_name: dict[str, str]

    @property
    def actions_url(self) -> str:
        """Where buttons call back: the bot's HTTP server as the Mattermost server reaches it."""
        base = self.cfg.actions_url or self.host.settings.http.public_url
        if not base:
            http = self.host.settings.http
            port = getattr(self.host.http, "port", None) or http.port
            base = f"http://{http.host}:{port}"
        return base.rstrip("/") + self.cfg.actions_path

    def _props(
        self, channel: str, thread: str | None, choices: Sequence[Choice]
    ) -> dict[str, Any] | None:
        if not choices:
            return None
        return {
            "attachments": actions.attachments(
                choices,
                self.actions_url,
                self._secret,
                channel,
                thread,
                issued=int(self.host.kv.clock().timestamp()),
            )
        }

    # -- posts out -----------------------------------------------------------------------------
    async def _channel_id(self, channel: str) -> str:
        """Workflows name channels (``helpdesk-storage``); the REST API wants ids."""
        if channel in self._channels or _CHANNEL_ID.fullmatch(channel):
            return channel
        name = channel.lstrip("~#")
        cid = self._by_name.get(name)
        if cid is None:
            for info in await self._list_channels():
                self._by_name[str(info.get("name"))] = str(info["id"])
            cid = self._by_name.get(name)
        if cid is None:
            raise LookupError(
                f"mattermost: the bot is not a member of a channel named {name!r}; "
                "add it to the channel (or use the channel id)"
            )
        return cid

    async def send(
        self, channel: str, text: str, *, thread: str | None = None, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        """Post ``text``; longer than the server's limit, it goes out as several posts, in order,
        in the same thread, buttons on the last. The ref names the first post and stands for
        all of them in ``update`` and ``delete``."""
        channel = await self._channel_id(channel)
        chunks = split(await self._render(text), self.max_post_size)
        first_choices = choices if len(chunks) == 1 else ()
        try:
            first = await self._create(channel, chunks[0], thread, first_choices)
        except InvalidOrMissingParameters as exc:
            if thread is None or exc.error_id != ROOT_ID_ERROR:
                raise
            root = await self._root_of(thread)  # we were handed a reply, not a root
            if root == thread:
                raise
            thread = root
            first = await self._create(channel, chunks[0], thread, first_choices)
        ids = [str(first["id"])]
        for index, chunk in enumerate(chunks[1:], start=2):
            post = await self._create(
                channel, chunk, thread, choices if index == len(chunks) else ()
            )
            ids.append(str(post["id"]))
        await self.parts.remember(ids)
        return PostedRef(self.platform, channel, ids[0], first.get("root_id") or None)

    async def _render(self, text: str) -> str:
        """Everything inert but the bot's own mention markers (``bot.markup``), which become
        ``@username``: a user's ``@channel``, ``@name`` or ``[label](url)`` stays text."""
        out = []
        for part in markup.parts(text):
            if isinstance(part, str):
                out.append(defuse(part))
            elif part.platform == self.platform and _USER_ID.fullmatch(part.user_id):
                out.append(f"@{await self._username(part.user_id)}")
            else:  # a user of another platform: their name as plain text
                out.append(defuse(part.fallback))
        return "".join(out)

    async def _create(
        self, channel: str, text: str, thread: str | None, choices: Sequence[Choice]
    ) -> dict[str, Any]:
        """One post. Its ``pending_post_id`` lets the server drop a repeat (see ``rest``),
        which is what makes retrying a post after a 5xx safe."""
        body = {
            "channel_id": channel,
            "message": text,
            "root_id": thread or None,
            "props": self._props(channel, thread, choices),
            "pending_post_id": f"{self.bot_id}:{uuid.uuid4().hex}",
        }
        result: dict[str, Any] = await call(
            self.outbox,
            channel,
            lambda: self.driver.client.post("/api/v4/posts", options=body),
            what="POST /posts",
            policy=self.retry,
            window=DEDUPE_WINDOW,
        )
        return result

    async def _root_of(self, post_id: str) -> str:
        post = await self._read(lambda: self.driver.posts.get_post(post_id), what="GET /posts")
        return str(post.get("root_id") or post_id)

    async def send_dm(
        self, user_id: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            info = await self._read(
                lambda: self.driver.channels.create_direct_channel([self.bot_id, user_id]),
                what="POST /channels/direct",
            )
            channel = str(info["id"])
            self._dm_channels[user_id] = channel
            self._channels[channel] = {**info, "type": "D"}
        return await self.send(channel, text, choices=choices)

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """Patch message and buttons; ``message`` is always sent (leaving it out blanks it).

        A message sent in parts is rewritten part by part: parts are patched, added (after the
        last one) or deleted as the new text needs; buttons stay on the last part."""
        chunks = split(await self._render(text), self.max_post_size)
        old = await self.parts.parts(ref.id)

        async def edit(post_id: str, chunk: str, last: bool) -> None:
            props = (self._props(ref.channel, ref.thread, choices) if last else None) or {
                "attachments": []
            }
            await call(
                self.outbox,
                ref.channel,
                lambda: self.driver.posts.patch_post(post_id, message=chunk, props=props),
                what="PUT /posts/{id}/patch",
                policy=self.retry,
            )

        async def create(chunk: str, last: bool) -> str:
            post = await self._create(ref.channel, chunk, ref.thread, choices if last else ())
            return str(post["id"])

        ids = await rewrite(
            old,
            chunks,
            edit=edit,
            create=create,
            remove=lambda post_id: self._remove(ref.channel, post_id),
        )
        await self.parts.remember(ids, old=old)

    async def delete(self, ref: PostedRef) -> None:
        """Delete the post, and every other part of a message that was sent in parts."""
        ids = await self.parts.parts(ref.id)
        for post_id in ids:
            await self._remove(ref.channel, post_id)
        await self.parts.remember([], old=ids)

    async def _remove(self, channel: str, post_id: str) -> None:
        """Delete one post; one already gone counts as deleted (a retry whose first attempt
        landed but lost its answer, or someone who deleted it first)."""
        try:
            await call(
                self.outbox,
                channel,
                lambda: self.driver.posts.delete_post(post_id),
                what="DELETE /posts/{id}",
                policy=self.retry,
            )
        except ResourceNotFound:
            log.debug("mattermost: post %s was already deleted", post_id)

    # -- users ---------------------------------------------------------------------------------
    async def _lookup(self, user_id: str) -> tuple[UserInfo, str]:
        cached = self._users.get(user_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cfg.user_cache_seconds:
            return cached[1], cached[2]
        user = await self._read(lambda: self.driver.users.get_user(user_id), what="GET /users/{id}")
        info = UserInfo(
            id=user_id,
            name=markup.strip(ev.display_name(user)),
            email=user.get("email") or None,
            is_bot=bool(user.get("is_bot")),
        )
        username = str(user.get("username") or user_id)
        self._users[user_id] = (now, info, username)
        return info, username

    async def user_info(self, user_id: str) -> UserInfo:
        """Display name and e-mail (the e-mail only if the server's privacy settings show it)."""
        return (await self._lookup(user_id))[0]

    async def _username(self, user_id: str) -> str:
        try:
            return (await self._lookup(user_id))[1]
        except (MattermostError, httpx.HTTPError) as exc:
            log.warning("mattermost: user %s look-up failed: %s", user_id, describe(exc))
            return user_id

    def mention(self, user_id: str) -> str:
        """A marker that ``_render`` turns into ``@username`` (looked up then if not cached)."""
        cached = self._users.get(user_id)
        return markup.mention(self.platform, user_id, f"@{cached[2] if cached else user_id}")

    # -- channels and reads ----------------------------------------------------------------------
    async def _list_channels(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for team_id in self.team_ids:
            channels = await self._team_channels(team_id)
            for channel in channels or ():
                seen.setdefault(channel["id"], channel)
        return list(seen.values())

    async def _posts_since(self, channel_id: str, since: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._read(
            lambda: self.driver.posts.get_posts_for_channel(channel_id, since=since, per_page=200),
            what="GET /channels/{id}/posts",
        )
        return result

    async def _team_channels(self, team_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(
            lambda: self.driver.channels.get_channels_for_team_for_user("me", team_id),
            what="GET /users/me/teams/{id}/channels",
        )
        return result

    async def _read(self, request: Callable[[], Awaitable[T]], what: str = "REST read") -> T:
        return await call(self.reads, "reads", request, what=what, policy=self.retry)


def defuse(text: str) -> str:
    """``text`` with no live mention or link: a zero-width space after each ``@`` that would
    notify (``@channel``, ``@all``, ``@here``, ``@name``) and after each ``]`` that would make
    a link; it reads the same."""
    if "@" in text:
        text = _AT.sub("@" + _ZWSP, text)
    if "]" in text:
        text = _LINK.sub("]" + _ZWSP, text)
    return text
