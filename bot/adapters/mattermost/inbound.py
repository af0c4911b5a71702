"""What the Mattermost adapter hears: websocket events, catch-up over REST, button clicks.

``posted`` and ``post_edited`` events become ``Message``s (mentions by ``@name`` and by the
mentions list, DMs by channel type "D", threads by root post), each with its delivery id (the
post id, or post id and edit time) and ``from_self`` for the bot's own posts; the core drops
echoes, chatter and repeats. After a reconnect the posts made during the gap are fetched per
channel from the cursors (``cursors``) and handed over the same way.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web
from mattermostautodriver.exceptions import MattermostError

from bot import markup
from bot.adapters.mattermost import actions, clicks
from bot.adapters.mattermost import events as ev
from bot.adapters.mattermost.cursors import Cursors
from bot.adapters.mattermost.outbound import MattermostOutbound
from bot.adapters.mattermost.rest import describe
from bot.backoff import Backoff
from bot.events import Interaction, Message

log = logging.getLogger(__name__)


class MattermostInbound(MattermostOutbound):
    """The inbound half of ``MattermostAdapter`` (which sets these attributes up)."""

    backoff: Backoff
    cursors: Cursors
    _mention: Any
    _synced: bool
    _ready: asyncio.Event

    async def _on_ws(self, raw: str) -> None:
        """Every websocket event; never raises, so one bad event cannot drop the connection."""
        event = ev.decode(raw, {})
        kind = event.get("event") if isinstance(event, dict) else None
        try:
            if kind == "hello":
                await self._on_hello()
            elif kind == "posted":
                await self._on_posted(event.get("data") or {})
            elif kind == "post_edited":
                await self._on_edited(event.get("data") or {})
        except Exception:
            log.exception("mattermost: could not handle a %s event", kind)

    async def _on_hello(self) -> None:
        self.backoff.reset()
        try:
            await self._catch_up()
        except Exception as exc:
            log.warning("mattermost: catch-up after (re)connecting failed: %s", describe(exc))
        self.connected = True
        self._ready.set()

    async def _on_posted(self, data: dict[str, Any]) -> None:
        post = ev.decode(data.get("post"), {})
        if not isinstance(post, dict) or not post.get("id"):
            return
        channel_id = post.get("channel_id", "")
        known = self._channels.setdefault(channel_id, {"id": channel_id})
        if data.get("channel_type"):
            known["type"] = data["channel_type"]
        if data.get("channel_name"):
            known["name"] = data["channel_name"]
        mentions = ev.decode(data.get("mentions"), []) or []
        sender = markup.strip(str(data.get("sender_name") or "").lstrip("@"))
        await self._handle_post(post, mentioned=self.bot_id in mentions, sender=sender)

    async def _on_edited(self, data: dict[str, Any]) -> None:
        post = ev.decode(data.get("post"), {})
        # pinning and other non-text updates also send post_edited, with edit_at unchanged (0)
        if isinstance(post, dict) and post.get("id") and post.get("edit_at"):
            await self._handle_post(post, edited=True)

    async def _handle_post(
        self,
        post: dict[str, Any],
        *,
        mentioned: bool = False,
        sender: str = "",
        edited: bool = False,
    ) -> None:
        self.cursors.advance(post)
        user_id = post.get("user_id") or ""
        own = user_id == self.bot_id
        if not user_id or ev.is_system(post) or post.get("delete_at"):
            return
        if self.cfg.ignore_bots and ev.is_from_integration(post) and not own:
            return
        channel_id = post["channel_id"]
        channel = await self._channel(channel_id)
        direct = channel.get("type") == "D"
        # marker characters cannot come from a user; "@\u200b" is our own defused "@" pasted back
        text = markup.strip(post.get("message") or "").replace("@\u200b", "@")
        if self._mention.search(text):
            mentioned = True
            text = ev.strip_mention(self._mention, text)
        listened = bool({channel_id, channel.get("name")} & set(self.cfg.listen_channels))
        name = sender or (self.bot_name if own else await self._username(user_id))
        delivery = (
            f"mattermost:edit:{post['id']}:{post.get('edit_at')}"
            if edited
            else f"mattermost:post:{post['id']}"
        )
        message = Message(
            self.platform,
            user_id,
            name,
            channel_id,
            text,
            direct=direct,
            mentioned=mentioned or listened,
            thread=ev.thread_of(post, direct),
            id=post["id"],
            time=ev.post_time(post),
            edited=edited,
            raw=post,
            delivery_ids=(delivery,),
            from_self=own,
        )
        await self.host.receive(message)

    async def _catch_up(self) -> None:
        """Handle posts made while the websocket was down; the first hello only sets cursors."""
        overlap = self.cfg.catchup_overlap_ms
        for channel in await self._list_channels():
            cid = channel["id"]
            self._channels[cid] = channel
            last_post = int(channel.get("last_post_at") or 0)
            if not self._synced:
                self.cursors.at_least(cid, last_post)
                continue
            cursor = self.cursors.get(cid)
            if cursor is None:  # a channel (or DM) opened during the gap
                cursor = max(int(channel.get("create_at") or 1) - 1, 1)
            if last_post <= cursor:
                continue
            since = max(cursor - overlap, 1)
            result = await self._posts_since(cid, since)
            posts = sorted(
                (result or {}).get("posts", {}).values(), key=lambda p: p.get("create_at", 0)
            )
            for post in posts:
                if int(post.get("create_at") or 0) >= since:
                    await self._handle_post(post)
                elif int(post.get("edit_at") or 0) >= since:
                    await self._handle_post(post, edited=True)
            log.info(
                "mattermost: caught up %d post(s) in %s", len(posts), channel.get("name") or cid
            )
        self._synced = True

    async def _channel(self, channel_id: str) -> dict[str, Any]:
        known = self._channels.get(channel_id)
        if known is not None and "type" in known:
            return known
        try:
            info = await self._read(
                lambda: self.driver.channels.get_channel(channel_id), what="GET /channels/{id}"
            )
        except MattermostError as exc:
            log.warning("mattermost: channel %s look-up failed: %s", channel_id, describe(exc))
            return known or {"id": channel_id}
        self._channels[channel_id] = info
        return dict(info)

    # -- interactive buttons -------------------------------------------------------------------
    async def _on_action(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": {"message": "not a JSON request"}}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": {"message": "not a JSON object"}}, status=400)
        channel_id, user_id = str(body.get("channel_id") or ""), str(body.get("user_id") or "")
        signed = actions.verify(self._secret, channel_id, body.get("context"))
        if signed is None or not user_id:
            log.warning(
                "mattermost: rejected a button click that failed the signature check "
                "(user %s, channel %s)",
                user_id or "?",
                channel_id or "?",
            )
            return clicks.answer(clicks.NOT_OURS, 403)
        expiry = timedelta(days=self.cfg.action_expiry_days)
        refused = await clicks.refusal(self, body, signed, expiry)
        if refused is not None:
            return refused
        channel = await self._channel(channel_id)
        direct = channel.get("type") == "D"
        post_id = str(body.get("post_id") or "") or None
        thread = signed.thread or (None if direct else post_id)
        name = await self._username(user_id)  # the server's name, not the body's
        await self.host.interact(
            Interaction(
                self.platform,
                user_id,
                name,
                channel_id,
                signed.action,
                signed.value,
                message_id=post_id,
                thread=thread,
                direct=direct,
                raw=body,
            )
        )
        return web.json_response({})
