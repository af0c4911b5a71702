"""The Slack adapter: slack-bolt's async app over Socket Mode (default) or the HTTP Events API.

Only translation lives here (see ``slack_events`` for the payload rules and ``slack_blocks`` for
buttons): events are de-duplicated (event id *and* channel+ts), turned into ``Message`` /
``Interaction`` and handed to the application; replies go out through a paced outbox that waits
out 429s. Every envelope is acked — an un-acked one is re-sent by Slack. Text beyond what Slack
keeps (40,000 characters; less with buttons, whose text goes into 3,000-character sections of
at most 50 blocks) goes out as several messages in order (``bot.textsplit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import ClientError, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapter import Adapter
from bot.adapters.slack_blocks import ATOMIC, escape, render
from bot.adapters.slack_config import SlackSettings, load_slack_settings
from bot.adapters.slack_events import (
    PLATFORM,
    Identity,
    dedupe_keys,
    interaction_keys,
    is_bot,
    is_self,
    private_thread,
    to_interaction,
    to_message,
)
from bot.adapters.slack_retry import ServerErrorRetryHandler
from bot.backoff import Backoff
from bot.dedupe import Deduplicator
from bot.errors import QuartermasterError
from bot.events import Choice, Event, Message, PostedRef, UserInfo
from bot.logs import redact
from bot.outbox import Outbox, RateLimited
from bot.textsplit import PartIndex, rewrite, split

if TYPE_CHECKING:
    from bot.adapters.slack_socket import SocketModeHandler
    from bot.app import Application

log = logging.getLogger(__name__)
T = TypeVar("T")

#: scopes without which the bot cannot do its job (checked at start from X-OAuth-Scopes)
REQUIRED_SCOPES = frozenset({"app_mentions:read", "chat:write", "im:history", "im:write",
                             "users:read"})
#: scopes whose absence only disables something (e-mails, thread replies without a mention)
RECOMMENDED_SCOPES = frozenset({"users:read.email", "channels:history", "groups:history"})
BAD_TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                              "token_expired", "not_allowed_token_type"})
#: chat.postEphemeral errors after which a private reply goes by DM instead: the user left the
#: channel, or the bot is not in it (or cannot see it)
EPHEMERAL_FALLBACK_ERRORS = frozenset({"user_not_in_channel", "channel_not_found",
                                       "not_in_channel"})
NAME_LOOKUP_TIMEOUT = 1.5   # seconds an event waits for a user's name before using the id
HELLO_TIMEOUT = 10.0
TEXT_LIMIT = 40_000         # Slack truncates a message's text beyond this
BLOCKS_TEXT_LIMIT = 12_000  # text of a message with buttons: a few sections, well under 50 blocks


class SlackStartupError(QuartermasterError):
    """The Slack adapter cannot start; the message is one line for the operator, no secrets."""


class SlackAdapter(Adapter):
    platform = PLATFORM

    def __init__(self, app: Application) -> None:
        super().__init__(app)
        self.settings: SlackSettings = load_slack_settings(
            app.settings.adapters.slack, http_enabled=app.settings.http.enabled)
        cfg = self.settings
        assert cfg.bot_token is not None
        self.client = AsyncWebClient(
            token=cfg.bot_token.get_secret_value(), base_url=cfg.api_url,
            retry_handlers=[AsyncConnectionErrorRetryHandler(),
                            AsyncRateLimitErrorRetryHandler(max_retry_count=2),
                            ServerErrorRetryHandler()])
        self.bolt = AsyncApp(
            client=self.client, name=app.name, process_before_response=True,
            signing_secret=(cfg.signing_secret.get_secret_value()
                            if cfg.signing_secret is not None else ""),
            request_verification_enabled=cfg.mode == "http")
        self.bolt.event("app_mention")(self._on_event)
        self.bolt.event("message")(self._on_event)
        self.bolt.action(re.compile(".*"))(ack=_ack, lazy=[self._on_action])
        self.bolt.event(re.compile(".*"))(_ignore)       # ack whatever else is subscribed
        self.outbox = Outbox(min_interval=cfg.pace_seconds)
        self.parts = PartIndex(app.conversations, PLATFORM)
        self.backoff = Backoff(base=cfg.reconnect_base, cap=cfg.reconnect_cap)
        self.me: Identity | None = None
        self.dedupe: Deduplicator | None = None
        self.socket: SocketModeHandler | None = None
        self._redis: Any = None
        self._ready = asyncio.Event()
        self._listen = frozenset(cfg.listen_channels)
        self._users: dict[str, tuple[float, UserInfo]] = {}
        self._dm_channels: dict[str, str] = {}
        self._up = False
        if cfg.mode == "http":
            if app.http is None:  # pragma: no cover - load_slack_settings refuses this
                raise SlackStartupError("Slack http mode needs http.enabled: true")
            app.http.add_route("POST", cfg.events_path, self._http_endpoint)
            if cfg.interactions_path != cfg.events_path:
                app.http.add_route("POST", cfg.interactions_path, self._http_endpoint)

    # -- health --------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        if not self._up:
            return False
        if self.socket is None:
            return True
        session = self.socket.client.current_session
        return session is not None and not session.closed

    @connected.setter
    def connected(self, value: bool) -> None:
        self._up = value

    # -- lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        try:
            self.me = await self._check_auth()
            redis_url = self.app.settings.redis.url
            if redis_url:
                import redis.asyncio as aioredis

                self._redis = aioredis.from_url(redis_url)
            self.dedupe = Deduplicator(redis=self._redis, prefix=self.app.settings.redis.prefix)
            self._ready.set()
            if self.settings.mode == "socket":
                await self._open_socket()
        except BaseException:
            await self.disconnect()
            raise
        self.connected = True
        log.info("Slack connected as %s (%s mode)", self.me.user_id, self.settings.mode)

    async def disconnect(self) -> None:
        self.connected = False
        self._ready.clear()
        if self.socket is not None:
            with contextlib.suppress(Exception):
                await self.socket.close_async()
            self.socket = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
            self._redis = None

    async def _check_auth(self) -> Identity:
        """``auth.test`` with the bot token: who we are, and whether the scopes suffice."""
        try:
            resp = await self.client.auth_test()
        except SlackApiError as exc:
            error = _error_code(exc)
            if error in BAD_TOKEN_ERRORS:
                raise SlackStartupError(
                    f"Slack rejected adapters.slack.bot_token ({error}): use the Bot User OAuth "
                    "Token (xoxb-…) of the installed app") from None
            raise SlackStartupError(f"Slack auth.test failed ({error})") from None
        except (ClientError, OSError, TimeoutError) as exc:
            raise SlackStartupError(
                f"cannot reach the Slack Web API at {redact(self.settings.api_url)} "
                f"({type(exc).__name__})") from None
        granted = _scopes(resp.headers)
        if granted is not None:
            missing = REQUIRED_SCOPES - granted
            if missing:
                raise SlackStartupError(
                    "the Slack bot token lacks the scopes " + ", ".join(sorted(missing))
                    + ": add them under OAuth & Permissions (see config/slack-app-manifest.yml)"
                    " and reinstall the app")
            if RECOMMENDED_SCOPES - granted:
                log.warning("Slack bot token lacks %s; some features are off (see docs/slack.md)",
                            ", ".join(sorted(RECOMMENDED_SCOPES - granted)))
        return Identity(str(resp.get("user_id")), resp.get("bot_id"), resp.get("team_id"))

    async def _open_socket(self) -> None:
        from bot.adapters.slack_socket import BackoffSocketModeClient, SocketModeHandler

        assert self.settings.app_token is not None
        client = BackoffSocketModeClient(
            self.settings.app_token.get_secret_value(),
            web_client=AsyncWebClient(base_url=self.settings.api_url),
            ping_interval=self.settings.ping_interval, backoff=self.backoff)
        self.socket = SocketModeHandler(self.bolt, client)
        try:
            await client.connect_once()
        except SlackApiError as exc:
            error = _error_code(exc)
            if error in BAD_TOKEN_ERRORS:
                raise SlackStartupError(
                    f"Slack rejected adapters.slack.app_token ({error}): use an app-level "
                    "token (xapp-…) with the connections:write scope") from None
            raise SlackStartupError(f"Slack apps.connections.open failed ({error})") from None
        except (ClientError, OSError, TimeoutError) as exc:
            raise SlackStartupError(
                f"cannot open the Slack Socket Mode connection ({type(exc).__name__})") from None
        try:
            await asyncio.wait_for(client.hello.wait(), HELLO_TIMEOUT)
        except TimeoutError:
            raise SlackStartupError("Slack Socket Mode connected but never said hello") from None

    # -- inbound -------------------------------------------------------------------------------
    async def _http_endpoint(self, request: web.Request) -> web.Response:
        """Events API and interactivity requests; bolt verifies the signature and timestamp."""
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _wait_ready(self) -> Deduplicator:
        await asyncio.wait_for(self._ready.wait(), HELLO_TIMEOUT)
        assert self.dedupe is not None
        return self.dedupe

    async def _on_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Runs before the ack: claim the delivery, queue the message, return quickly."""
        dedupe = await self._wait_ready()
        assert self.me is not None
        inner = ((event.get("message") or {}) if event.get("subtype") == "message_changed"
                 else event)
        if is_self(inner, self.me):
            return
        if self.settings.ignore_bots and is_bot(inner):
            return
        message = to_message(event, self.me, user_name="", listen_channels=self._listen)
        if message is None:
            return
        message.user_name = message.user_id
        if (not message.addressed
                and self.app.conversations.peek(message.conversation_key) is None):
            await self.app.receive(message)          # counted and dropped by the core
            return
        if not await dedupe.first_time(*dedupe_keys(body, event)):
            log.debug("dropped a duplicate Slack delivery of %s/%s", message.channel, message.id)
            return
        message.user_name = await self._name_quickly(message.user_id)
        await self.app.receive(message)

    async def _on_action(self, body: dict[str, Any]) -> None:
        """Runs after the ack (a bolt lazy listener): one Interaction per clicked button."""
        dedupe = await self._wait_ready()
        for action in body.get("actions") or ():
            interaction = to_interaction(body, action)
            if interaction is None:
                continue
            if not await dedupe.first_time(*interaction_keys(body, action)):
                continue
            interaction.user_name = await self._name_quickly(interaction.user_id,
                                                             interaction.user_name)
            await self.app.interact(interaction)

    async def _name_quickly(self, user_id: str, default: str | None = None) -> str:
        try:
            info = await asyncio.wait_for(self.user_info(user_id), NAME_LOOKUP_TIMEOUT)
        except TimeoutError:
            return default or user_id
        return info.name if info.name != user_id or default is None else default

    # -- outbound ------------------------------------------------------------------------------
    async def _call(self, key: str, request: Callable[[], Awaitable[T]]) -> T:
        """Through the outbox: paced per channel; a 429 the client gave up on is waited out."""
        async def attempt() -> T:
            try:
                return await request()
            except SlackApiError as exc:
                if exc.response.status_code == 429:
                    raise RateLimited(_retry_after(exc.response.headers)) from None
                raise
        return await self.outbox.call(key, attempt)

    async def send(self, channel: str, text: str, *, thread: str | None = None,
                   choices: Sequence[Choice] = ()) -> PostedRef:
        """Post ``text``; too long for one message, it goes out as several, in order, in the
        same thread, buttons on the last. The ref names the first and stands for all of them
        in ``update`` and ``delete``."""
        chunks = _chunks(text, choices)
        ids: list[str] = []
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            channel, ts = await self._post(channel, chunk, thread, choices if last else ())
            ids.append(ts)
        await self.parts.remember(ids, scope=channel)
        return PostedRef(self.platform, channel, ids[0], thread)

    async def _post(self, channel: str, text: str, thread: str | None,
                    choices: Sequence[Choice]) -> tuple[str, str]:
        """One message; (channel, ts) as Slack answers (a user id as channel becomes a DM)."""
        blocks = render(text, choices)
        resp = await self._call(channel, lambda: self.client.chat_postMessage(
            channel=channel, text=text, thread_ts=thread, blocks=blocks))
        return str(resp.get("channel") or channel), str(resp["ts"])

    async def send_dm(self, user_id: str, text: str, *,
                      choices: Sequence[Choice] = ()) -> PostedRef:
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
            error = _error_code(exc)
            if error not in EPHEMERAL_FALLBACK_ERRORS:
                raise
            log.info("Slack: private reply to %s goes by DM, chat.postEphemeral in %s said %s",
                     event.user_id, event.channel, error)
        return await self.send_dm(event.user_id, text)

    async def _post_ephemeral(self, channel: str, user_id: str, text: str,
                              thread: str | None) -> PostedRef:
        """``chat.postEphemeral``, in parts like ``send`` (no buttons: a click on an ephemeral
        message carries no message we could update). The ref is marked ephemeral because Slack
        cannot edit or delete such a message."""
        ids: list[str] = []
        for chunk in _chunks(text, ()):
            resp = await self._call(channel, functools.partial(
                self.client.chat_postEphemeral, channel=channel, user=user_id, text=chunk,
                thread_ts=thread))
            ids.append(str(resp.get("message_ts") or ""))
        return PostedRef(self.platform, channel, ids[0], thread, ephemeral=True)

    async def _dm_channel(self, user_id: str) -> str:
        channel = self._dm_channels.get(user_id)
        if channel is None:
            resp = await self._call("conversations.open",
                                    lambda: self.client.conversations_open(users=user_id))
            channel = str(resp["channel"]["id"])
            self._dm_channels[user_id] = channel
        return channel

    async def update(self, ref: PostedRef, text: str, *, choices: Sequence[Choice] = ()) -> None:
        """Edit the message (every part of one sent in parts: edited, added or deleted as the
        new text needs); buttons stay on the last part. An ephemeral message cannot be edited."""
        if ref.ephemeral:
            log.debug("Slack: not updating ephemeral message %s in %s (Slack cannot)",
                      ref.id, ref.channel)
            return
        old = self.parts.parts(ref.id, scope=ref.channel)

        async def edit(ts: str, chunk: str, last: bool) -> None:
            blocks = (render(chunk, choices) if last else None) or []   # [] removes buttons
            await self._call(ref.channel, lambda: self.client.chat_update(
                channel=ref.channel, ts=ts, text=chunk, blocks=blocks))

        async def create(chunk: str, last: bool) -> str:
            return (await self._post(ref.channel, chunk, ref.thread,
                                     choices if last else ()))[1]

        ids = await rewrite(old, _chunks(text, choices), edit=edit, create=create,
                            remove=lambda ts: self._remove(ref.channel, ts))
        await self.parts.remember(ids, old=old, scope=ref.channel)

    async def delete(self, ref: PostedRef) -> None:
        """Delete the message, and every other part of one that was sent in parts. An ephemeral
        message cannot be deleted (the user dismisses it, or it goes on reload)."""
        if ref.ephemeral:
            log.debug("Slack: not deleting ephemeral message %s in %s (Slack cannot)",
                      ref.id, ref.channel)
            return
        ids = self.parts.parts(ref.id, scope=ref.channel)
        for ts in ids:
            await self._remove(ref.channel, ts)
        await self.parts.remember([], old=ids, scope=ref.channel)

    async def _remove(self, channel: str, ts: str) -> None:
        """``chat.delete``; a message already gone counts as deleted (a repeated delete whose
        first answer was lost, or a user who deleted it first)."""
        try:
            await self._call(channel, lambda: self.client.chat_delete(channel=channel, ts=ts))
        except SlackApiError as exc:
            if _error_code(exc) != "message_not_found":
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
            log.warning("Slack users.info %s failed: %s", user_id, _error_code(exc))
            return UserInfo(id=user_id, name=user_id)
        user = resp.get("user") or {}
        profile = user.get("profile") or {}
        name = (profile.get("display_name") or profile.get("real_name") or user.get("real_name")
                or user.get("name") or user_id)
        info = UserInfo(id=user_id, name=str(name), email=profile.get("email"),
                        is_bot=bool(user.get("is_bot")))
        self._users[user_id] = (now, info)
        return info

    def mention(self, user_id: str) -> str:
        return f"<@{user_id}>"


def _chunks(text: str, choices: Sequence[Choice]) -> list[str]:
    """Escaped text in parts Slack keeps whole (escapes and links are never cut)."""
    limit = BLOCKS_TEXT_LIMIT if choices else TEXT_LIMIT
    return split(escape(text), limit, atomic=ATOMIC)


async def _ack(ack: Callable[[], Awaitable[Any]]) -> None:
    await ack()


async def _ignore() -> None:
    """Events nobody handles are still acknowledged (bolt acks events automatically)."""


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def _header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _scopes(headers: Any) -> frozenset[str] | None:
    raw = _header(headers, "x-oauth-scopes")
    if raw is None:
        return None
    return frozenset(s.strip() for s in raw.split(",") if s.strip())


def _retry_after(headers: Any) -> float:
    raw = _header(headers, "retry-after")
    try:
        return float(raw) if raw is not None else 1.0
    except ValueError:
        return 1.0
