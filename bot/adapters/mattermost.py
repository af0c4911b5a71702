"""The Mattermost adapter: websocket events in, REST v4 calls out, through mattermostautodriver.

Inbound: ``posted`` and ``post_edited`` events become ``Message``s (mentions by ``@name`` and by
the mentions list, DMs by channel type "D", threads by root post). After a dropped websocket it
reconnects with back-off and jitter, then catches up over REST on every channel it is in, so
posts made during the gap are handled once (de-duplicated by post id). Outbound: posts, patches
(never a whole-post PUT), deletes and buttons whose clicks come back to the bot's HTTP server,
signed with the per-install action secret. No System Admin role is needed. A reply longer than
the server's ``MaxPostSize`` goes out as several posts (``bot.textsplit``); 5xx answers and
dropped connections are retried (``mattermost_rest.call``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from aiohttp import web
from mattermostautodriver import AsyncTypedDriver
from mattermostautodriver.exceptions import (
    InvalidMattermostError,
    InvalidOrMissingParameters,
    MattermostError,
    NoAccessTokenProvided,
    NotEnoughPermissions,
    ResourceNotFound,
)

from bot import logs
from bot.adapter import Adapter
from bot.adapters import mattermost_actions as actions
from bot.adapters import mattermost_events as ev
from bot.adapters.mattermost_config import action_secret, load
from bot.adapters.mattermost_rest import (
    DEDUPE_WINDOW,
    RetryPolicy,
    call,
    describe,
    driver_options,
    safe_url,
)
from bot.adapters.mattermost_ws import SessionWebsocket, WebsocketAuthError, websocket_url
from bot.backoff import Backoff
from bot.dedupe import Deduplicator
from bot.errors import ConfigError, QuartermasterError
from bot.events import Choice, Interaction, Message, PostedRef, UserInfo
from bot.outbox import Outbox
from bot.textsplit import MIN_LIMIT, PartIndex, rewrite, split

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)
T = TypeVar("T")
ROOT_ID_ERROR = "api.post.create_post.root_id.app_error"
_TOKENS: set[str] = set()


# The driver logs every API error response at ERROR on this logger, including the ones handled
# here (a 401 at start becomes one clear line; a root_id 400 is retried on the root). Failures
# that are not handled reach our own log through the exception.
logging.getLogger("mattermostautodriver.websocket").setLevel(logging.CRITICAL)


_CHANNEL_ID = re.compile(r"[a-z0-9]{26}")
_PLACEHOLDER = re.compile(r"<@([a-z0-9]{26})>")
_CURSORS_KEY = "mattermost:catch-up"


class MattermostStartupError(QuartermasterError):
    """The adapter cannot start; the message is one line an operator can act on."""


def _redact_tokens(text: str) -> str:
    for token in _TOKENS:
        text = text.replace(token, "[redacted]")
    return text


class MattermostAdapter(Adapter):
    platform = "mattermost"

    def __init__(self, app: Application) -> None:
        super().__init__(app)
        self.app: Application = app
        self.cfg = load(app.settings)
        token = self.cfg.token.get_secret_value()
        if len(token) >= 8:
            _TOKENS.add(token)
            logs.add_redactor(_redact_tokens)
        if app.http is None:
            raise ConfigError("adapters.mattermost: buttons need the bot's HTTP server; set "
                              "http.enabled: true (and http.public_url or "
                              "adapters.mattermost.actions_url to an address the Mattermost "
                              "server can reach)")
        self._secret = action_secret(self.cfg)
        app.http.add_route("POST", self.cfg.actions_path, self._on_action)
        self.url = safe_url(self.cfg)
        self.driver = AsyncTypedDriver(driver_options(self.cfg))
        self.outbox = Outbox(min_interval=self.cfg.min_post_interval)   # posts, per channel
        self.reads = Outbox()                                            # look-ups, catch-up
        self.retry = RetryPolicy(self.cfg.retries, self.cfg.retry_base_seconds,
                                 self.cfg.retry_max_seconds)
        self.max_post_size = self.cfg.max_post_size     # the server's MaxPostSize once known
        self.parts = PartIndex(app.conversations, self.platform)
        self.dedupe = Deduplicator(use_database=True)
        self.backoff = Backoff(base=self.cfg.reconnect_base_seconds,
                               cap=self.cfg.reconnect_max_seconds)
        self.bot_id = ""
        self.bot_name = ""
        self.team_ids: list[str] = []
        self.reconnects = 0
        self._mention = ev.mention_pattern(app.name)
        self._users: dict[str, tuple[float, UserInfo, str]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._dm_channels: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self._cursors: dict[str, int] = {}
        self._saved_cursors: dict[str, int] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._synced = False
        self._ready = asyncio.Event()
        self._closing = False
        self._session: SessionWebsocket | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None
        self._redis: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def actions_url(self) -> str:
        base = self.cfg.actions_url or self.app.settings.http.public_url
        if not base:
            http = self.app.settings.http
            port = getattr(self.app.http, "port", None) or http.port
            base = f"http://{http.host}:{port}"
        return base.rstrip("/") + self.cfg.actions_path

    async def connect(self) -> None:
        await self._login()
        await self._pick_teams()
        await self._read_post_limit()
        redis_url = self.app.settings.redis.url
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url)
            self.dedupe = Deduplicator(redis=self._redis, prefix=self.app.settings.redis.prefix)
        if not (self.cfg.actions_url or self.app.settings.http.public_url):
            log.warning("mattermost: neither adapters.mattermost.actions_url nor "
                        "http.public_url is set; buttons call back %s", self.actions_url)
        self._closing = False
        self._restore_cursors()
        self._keeper = asyncio.create_task(self._keep_cursors(), name="mattermost-cursors")
        self._task = asyncio.create_task(self._run(), name="mattermost-websocket")
        self._pruner = asyncio.create_task(self._prune(), name="mattermost-dedupe-prune")
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait({ready, self._task}, timeout=self.cfg.connect_timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if self._task in done:
            exc = self._task.exception()
            await self.disconnect()
            raise exc or MattermostStartupError(f"mattermost: websocket at {self.url} closed")
        if not done:
            await self.disconnect()
            raise MattermostStartupError(
                f"mattermost: no websocket 'hello' from {self.url} within "
                f"{self.cfg.connect_timeout:.0f} s (does a proxy block websockets?)")
        log.info("mattermost: connected to %s as @%s", self.url, self.bot_name)

    async def _login(self) -> None:
        where = f"{self.url}/api/v4/users/me"
        try:
            me = await self.driver.login()
        except (NoAccessTokenProvided, NotEnoughPermissions) as exc:
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: {self.url} rejected the bot token (HTTP {exc.status_code} on "
                "/api/v4/users/me); create a new access token for the bot account and set "
                "adapters.mattermost.token") from None
        except (httpx.HTTPError, MattermostError, InvalidMattermostError, OSError) as exc:
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: cannot reach {where}: {describe(exc)} "
                "(check adapters.mattermost.url)") from None
        if not isinstance(me, dict) or not me.get("id"):
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: {where} did not answer with a user as JSON; is "
                "adapters.mattermost.url a Mattermost server?")
        self.bot_id, self.bot_name = me["id"], me.get("username") or me["id"]
        self._mention = ev.mention_pattern(self.bot_name)

    async def _pick_teams(self) -> None:
        try:
            teams = await self._read(lambda: self.driver.teams.get_teams_for_user("me"),
                                     what="GET /users/me/teams")
        except (httpx.HTTPError, MattermostError, InvalidMattermostError) as exc:
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: cannot list the bot's teams on {self.url}: {describe(exc)}"
            ) from None
        wanted = self.cfg.team
        if wanted:
            teams = [t for t in teams if wanted in (t.get("name"), t.get("id"))]
            if not teams:
                await self._close_clients()
                raise MattermostStartupError(
                    f"mattermost: the bot @{self.bot_name} is not a member of team "
                    f"{wanted!r}; add it to the team or fix adapters.mattermost.team")
        self.team_ids = [t["id"] for t in teams]

    async def _read_post_limit(self) -> None:
        """``MaxPostSize`` from the client config (any logged-in user may read it; only with
        ``format=old``); the ``max_post_size`` setting when the server does not say."""
        try:
            config = await self._read(lambda: self.driver.client.get(
                "/api/v4/config/client", params={"format": "old"}), what="GET /config/client")
            size = int(config["MaxPostSize"])
        except (httpx.HTTPError, InvalidMattermostError, LookupError, TypeError,
                ValueError) as exc:
            reason = describe(exc) if isinstance(exc, httpx.HTTPError | InvalidMattermostError) \
                else "no MaxPostSize in the client config"
            log.info("mattermost: post size limit not read from the server (%s); splitting "
                     "replies at %d characters", reason, self.max_post_size)
            return
        if size >= MIN_LIMIT:
            self.max_post_size = size

    async def disconnect(self) -> None:
        self._closing = True
        self.connected = False
        try:
            await self._save_cursors()
        except Exception as exc:
            log.warning("mattermost: could not save catch-up positions: %s", describe(exc))
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
        for task in (self._task, self._pruner, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._task = self._pruner = self._keeper = None
        await self._close_clients()

    async def _close_clients(self) -> None:
        with contextlib.suppress(Exception):
            await self.driver.close()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    # -- the websocket and its reconnect loop --------------------------------------------------
    async def _run(self) -> None:
        url = websocket_url(self.cfg.scheme, self.driver.options["url"], self.cfg.port,
                            self.cfg.base_path)
        while not self._closing:
            self._session = SessionWebsocket(self.driver.options,
                                             self.cfg.token.get_secret_value(), url,
                                             heartbeat=self.cfg.heartbeat_seconds)
            try:
                await self._session.connect(self._on_ws)
                reason = "the server closed the connection"
            except asyncio.CancelledError:
                raise
            except WebsocketAuthError as exc:
                reason = f"the server refused the token ({exc})"
            except Exception as exc:
                reason = describe(exc)
            self.connected = False
            if self._closing:
                return
            if not self._ready.is_set():
                raise MattermostStartupError(f"mattermost: websocket {url}: {reason}")
            delay = self.backoff.next_delay()
            self.reconnects += 1
            log.warning("mattermost: websocket lost (%s); reconnecting in %.1f s", reason, delay)
            await asyncio.sleep(delay)

    async def _prune(self, every: float = 900.0) -> None:
        """Forget de-duplication keys older than their TTL (the database does not expire them)."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.dedupe.prune()
            except Exception as exc:
                log.warning("mattermost: pruning seen post ids failed: %s", describe(exc))

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
        sender = str(data.get("sender_name") or "").lstrip("@")
        await self._handle_post(post, mentioned=self.bot_id in mentions, sender=sender)

    async def _on_edited(self, data: dict[str, Any]) -> None:
        post = ev.decode(data.get("post"), {})
        # pinning and other non-text updates also send post_edited, with edit_at unchanged (0)
        if isinstance(post, dict) and post.get("id") and post.get("edit_at"):
            await self._handle_post(post, edited=True)

    # -- catch-up positions across restarts ----------------------------------------------------
    def _restore_cursors(self) -> None:
        """Posts made while the *process* was down are caught up on the first connect, from the
        positions saved at the last stop (if that was recent; de-duplication is in the database,
        so nothing handled before the stop runs twice)."""
        saved = self.app.conversations.peek(_CURSORS_KEY)
        if not saved or saved.get("bot") != self.bot_id:
            return
        age = time.time() - float(saved.get("saved_at", 0))
        if age > self.cfg.restart_catchup_minutes * 60:
            log.info("mattermost: last stop was %.0f min ago; not catching up that far", age / 60)
            return
        self._cursors.update({str(k): int(v) for k, v in saved.get("cursors", {}).items()})
        self._saved_cursors = dict(self._cursors)
        self._synced = bool(self._cursors)

    async def _save_cursors(self) -> None:
        if not self._cursors or self._cursors == self._saved_cursors:
            return
        snapshot = dict(self._cursors)
        await self.app.conversations.save(
            _CURSORS_KEY, {"bot": self.bot_id, "saved_at": time.time(), "cursors": snapshot},
            expires=False)
        self._saved_cursors = snapshot

    async def _keep_cursors(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.cursor_save_seconds)
            try:
                await self._save_cursors()
            except Exception as exc:
                log.warning("mattermost: could not save catch-up positions: %s", describe(exc))

    # -- posts in ------------------------------------------------------------------------------
    def _advance(self, post: dict[str, Any]) -> None:
        channel, created = post.get("channel_id"), int(post.get("create_at") or 0)
        if channel and created > self._cursors.get(channel, 0):
            self._cursors[channel] = created

    async def _handle_post(self, post: dict[str, Any], *, mentioned: bool = False,
                           sender: str = "", edited: bool = False) -> None:
        self._advance(post)
        user_id = post.get("user_id") or ""
        if (user_id == self.bot_id or not user_id or ev.is_system(post)
                or post.get("delete_at")):
            return
        if self.cfg.ignore_bots and ev.is_from_integration(post):
            return
        channel_id = post["channel_id"]
        channel = await self._channel(channel_id)
        direct = channel.get("type") == "D"
        text = post.get("message") or ""
        if self._mention.search(text):
            mentioned = True
            text = ev.strip_mention(self._mention, text)
        listened = bool({channel_id, channel.get("name")} & set(self.cfg.listen_channels))
        name = sender or await self._username(user_id)
        message = Message(self.platform, user_id, name, channel_id, text, direct=direct,
                          mentioned=mentioned or listened, thread=ev.thread_of(post, direct),
                          id=post["id"], time=ev.post_time(post), edited=edited, raw=post)
        pending = self.app.conversations.peek(message.conversation_key) is not None
        if message.addressed or pending:
            key = (f"mattermost:edit:{post['id']}:{post.get('edit_at')}" if edited
                   else f"mattermost:post:{post['id']}")
            if not await self.dedupe.first_time(key):
                log.debug("mattermost: dropped a duplicate delivery of %s", key)
                return
        await self.app.receive(message)

    async def _catch_up(self) -> None:
        """Handle posts made while the websocket was down; the first hello only sets cursors."""
        overlap = self.cfg.catchup_overlap_ms
        for channel in await self._list_channels():
            cid = channel["id"]
            self._channels[cid] = channel
            last_post = int(channel.get("last_post_at") or 0)
            if not self._synced:
                self._cursors[cid] = max(self._cursors.get(cid, 0), last_post)
                continue
            cursor = self._cursors.get(cid)
            if cursor is None:             # a channel (or DM) opened during the gap
                cursor = max(int(channel.get("create_at") or 1) - 1, 1)
            if last_post <= cursor:
                continue
            since = max(cursor - overlap, 1)
            result = await self._posts_since(cid, since)
            posts = sorted((result or {}).get("posts", {}).values(),
                           key=lambda p: p.get("create_at", 0))
            for post in posts:
                if int(post.get("create_at") or 0) >= since:
                    await self._handle_post(post)
                elif int(post.get("edit_at") or 0) >= since:
                    await self._handle_post(post, edited=True)
            log.info("mattermost: caught up %d post(s) in %s", len(posts),
                     channel.get("name") or cid)
        self._synced = True

    async def _list_channels(self) -> list[dict[str, Any]]:
        seen: dict[str, dict[str, Any]] = {}
        for team_id in self.team_ids:
            channels = await self._team_channels(team_id)
            for channel in channels or ():
                seen.setdefault(channel["id"], channel)
        return list(seen.values())

    async def _posts_since(self, channel_id: str, since: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._read(
            lambda: self.driver.posts.get_posts_for_channel(channel_id, since=since,
                                                            per_page=200),
            what="GET /channels/{id}/posts")
        return result

    async def _team_channels(self, team_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._read(
            lambda: self.driver.channels.get_channels_for_team_for_user("me", team_id),
            what="GET /users/me/teams/{id}/channels")
        return result

    async def _channel(self, channel_id: str) -> dict[str, Any]:
        known = self._channels.get(channel_id)
        if known is not None and "type" in known:
            return known
        try:
            info = await self._read(lambda: self.driver.channels.get_channel(channel_id),
                                    what="GET /channels/{id}")
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
        context = body.get("context")
        if not user_id or not actions.verify(self._secret, channel_id, context) \
                or not isinstance(context, dict):
            log.warning("mattermost: rejected a button click that failed the signature check "
                        "(user %s, channel %s)", user_id or "?", channel_id or "?")
            text = "This button was not issued by this bot; the click was ignored."
            return web.json_response({"error": {"message": text}, "ephemeral_text": text},
                                     status=403)
        channel = await self._channel(channel_id)
        direct = channel.get("type") == "D"
        post_id = str(body.get("post_id") or "") or None
        thread = context["thread"] or (None if direct else post_id)
        name = str(body.get("user_name") or "") or await self._username(user_id)
        await self.app.interact(Interaction(
            self.platform, user_id, name, channel_id, context["action"], context["value"],
            message_id=post_id, thread=thread, direct=direct, raw=body))
        return web.json_response({})

    def _props(self, channel: str, thread: str | None,
               choices: Sequence[Choice]) -> dict[str, Any] | None:
        if not choices:
            return None
        return {"attachments": actions.attachments(choices, self.actions_url, self._secret,
                                                   channel, thread)}

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
            raise LookupError(f"mattermost: the bot is not a member of a channel named {name!r}; "
                              "add it to the channel (or use the channel id)")
        return cid

    async def send(self, channel: str, text: str, *, thread: str | None = None,
                   choices: Sequence[Choice] = ()) -> PostedRef:
        """Post ``text``; longer than the server's limit, it goes out as several posts, in order,
        in the same thread, buttons on the last. The ref names the first post and stands for
        all of them in ``update`` and ``delete``."""
        channel = await self._channel_id(channel)
        chunks = split(await self._mentions(text), self.max_post_size)
        first_choices = choices if len(chunks) == 1 else ()
        try:
            first = await self._create(channel, chunks[0], thread, first_choices)
        except InvalidOrMissingParameters as exc:
            if thread is None or exc.error_id != ROOT_ID_ERROR:
                raise
            root = await self._root_of(thread)           # we were handed a reply, not a root
            if root == thread:
                raise
            thread = root
            first = await self._create(channel, chunks[0], thread, first_choices)
        ids = [str(first["id"])]
        for index, chunk in enumerate(chunks[1:], start=2):
            post = await self._create(channel, chunk, thread,
                                      choices if index == len(chunks) else ())
            ids.append(str(post["id"]))
        await self.parts.remember(ids)
        return PostedRef(self.platform, channel, ids[0], first.get("root_id") or None)

    async def _mentions(self, text: str) -> str:
        """``<@USERID>`` placeholders (from ``mention`` before the name was known) → ``@name``."""
        if "<@" not in text:
            return text
        names = {uid: await self._username(uid) for uid in set(_PLACEHOLDER.findall(text))}
        return _PLACEHOLDER.sub(lambda m: f"@{names[m.group(1)]}", text)

    async def _create(self, channel: str, text: str, thread: str | None,
                      choices: Sequence[Choice]) -> dict[str, Any]:
        """One post. Its ``pending_post_id`` lets the server drop a repeat (see mattermost_rest),
        which is what makes retrying a post after a 5xx safe."""
        body = {"channel_id": channel, "message": text, "root_id": thread or None,
                "props": self._props(channel, thread, choices),
                "pending_post_id": f"{self.bot_id}:{uuid.uuid4().hex}"}
        result: dict[str, Any] = await call(
            self.outbox, channel, lambda: self.driver.client.post("/api/v4/posts", options=body),
            what="POST /posts", policy=self.retry, window=DEDUPE_WINDOW)
        return result

    async def _root_of(self, post_id: str) -> str:
        post = await self._read(lambda: self.driver.posts.get_post(post_id), what="GET /posts")
        return str(post.get("root_id") or post_id)

    async def send_dm(self, user_id: str, text: str, *,
                      choices: Sequence[Choice] = ()) -> PostedRef:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            info = await self._read(lambda: self.driver.channels.create_direct_channel(
                [self.bot_id, user_id]), what="POST /channels/direct")
            channel = str(info["id"])
            self._dm_channels[user_id] = channel
            self._channels[channel] = {**info, "type": "D"}
        return await self.send(channel, text, choices=choices)

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """Patch message and buttons; ``message`` is always sent (leaving it out blanks it).

        A message sent in parts is rewritten part by part: parts are patched, added (after the
        last one) or deleted as the new text needs; buttons stay on the last part."""
        chunks = split(await self._mentions(text), self.max_post_size)
        old = self.parts.parts(ref.id)

        async def edit(post_id: str, chunk: str, last: bool) -> None:
            props = (self._props(ref.channel, ref.thread, choices) if last else None) \
                or {"attachments": []}
            await call(self.outbox, ref.channel, lambda: self.driver.posts.patch_post(
                post_id, message=chunk, props=props), what="PUT /posts/{id}/patch",
                policy=self.retry)

        async def create(chunk: str, last: bool) -> str:
            post = await self._create(ref.channel, chunk, ref.thread, choices if last else ())
            return str(post["id"])

        ids = await rewrite(old, chunks, edit=edit, create=create,
                            remove=lambda post_id: self._remove(ref.channel, post_id))
        await self.parts.remember(ids, old=old)

    async def delete(self, ref: PostedRef) -> None:
        """Delete the post, and every other part of a message that was sent in parts."""
        ids = self.parts.parts(ref.id)
        for post_id in ids:
            await self._remove(ref.channel, post_id)
        await self.parts.remember([], old=ids)

    async def _remove(self, channel: str, post_id: str) -> None:
        """Delete one post; one already gone counts as deleted (a retry whose first attempt
        landed but lost its answer, or someone who deleted it first)."""
        try:
            await call(self.outbox, channel, lambda: self.driver.posts.delete_post(post_id),
                       what="DELETE /posts/{id}", policy=self.retry)
        except ResourceNotFound:
            log.debug("mattermost: post %s was already deleted", post_id)

    # -- users ---------------------------------------------------------------------------------
    async def _lookup(self, user_id: str) -> tuple[UserInfo, str]:
        cached = self._users.get(user_id)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.cfg.user_cache_seconds:
            return cached[1], cached[2]
        user = await self._read(lambda: self.driver.users.get_user(user_id),
                                what="GET /users/{id}")
        info = UserInfo(id=user_id, name=ev.display_name(user), email=user.get("email") or None,
                        is_bot=bool(user.get("is_bot")))
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
        """``@username``; a placeholder resolved when posting if the name is not cached yet."""
        cached = self._users.get(user_id)
        return f"@{cached[2]}" if cached else f"<@{user_id}>"

    # -- helpers -------------------------------------------------------------------------------
    async def _read(self, request: Callable[[], Awaitable[T]], what: str = "REST read") -> T:
        return await call(self.reads, "reads", request, what=what, policy=self.retry)
