"""The Slack adapter: slack-bolt's async app over Socket Mode (default) or the HTTP Events API.

Only translation lives here (see ``events`` for the payload rules, ``blocks`` for buttons and
``outbound`` for what the bot sends): events become ``Message`` / ``Interaction`` carrying their
delivery ids and whether they are the bot's own echo, and go to the host, whose inbound stages
drop echoes, chatter and duplicates. Every envelope is acked as soon as it is translated and
queued — an un-acked one is re-sent by Slack; the user's name is looked up afterwards, by the
core, for the events it handles.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import ClientError, web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapter import Host
from bot.adapters.slack.config import SlackSettings, load_slack_settings
from bot.adapters.slack.events import (
    PLATFORM,
    Identity,
    dedupe_keys,
    interaction_keys,
    is_bot,
    is_self,
    to_interaction,
    to_message,
)
from bot.adapters.slack.outbound import SlackOutbound
from bot.adapters.slack.retry import ServerErrorRetryHandler
from bot.adapters.slack.startup import SlackStartupError, check_auth, socket_error
from bot.backoff import Backoff
from bot.config import Settings
from bot.events import UserInfo
from bot.outbox import Outbox
from bot.textsplit import PartIndex

if TYPE_CHECKING:
    from bot.adapters.slack.socket import SocketModeHandler

log = logging.getLogger(__name__)

NAME_LOOKUP_TIMEOUT = 1.5  # seconds a click waits for a user's name before using the payload's
HELLO_TIMEOUT = 10.0


class SlackAdapter(SlackOutbound):
    platform = PLATFORM

    @classmethod
    def validate_settings(cls, settings: Settings) -> None:
        """``adapters.slack`` keys, checked by ``quartermaster config check`` (ConfigError)."""
        load_slack_settings(settings.adapters.slack, http_enabled=settings.http.enabled)

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.settings: SlackSettings = load_slack_settings(
            host.settings.adapters.slack, http_enabled=host.settings.http.enabled
        )
        cfg = self.settings
        assert cfg.bot_token is not None
        self.client = AsyncWebClient(
            token=cfg.bot_token.get_secret_value(),
            base_url=cfg.api_url,
            retry_handlers=[
                AsyncConnectionErrorRetryHandler(),
                AsyncRateLimitErrorRetryHandler(max_retry_count=2),
                ServerErrorRetryHandler(),
            ],
        )
        self.bolt = AsyncApp(
            client=self.client,
            name=host.name,
            process_before_response=True,
            signing_secret=(
                cfg.signing_secret.get_secret_value() if cfg.signing_secret is not None else ""
            ),
            request_verification_enabled=cfg.mode == "http",
        )
        self.bolt.event("app_mention")(self._on_event)
        self.bolt.event("message")(self._on_event)
        self.bolt.action(re.compile(".*"))(ack=_ack, lazy=[self._on_action])
        self.bolt.event(re.compile(".*"))(_ignore)  # ack whatever else is subscribed
        self.outbox = Outbox(min_interval=cfg.pace_seconds)
        self.parts = PartIndex(host.kv, PLATFORM)
        self.backoff = Backoff(base=cfg.reconnect_base, cap=cfg.reconnect_cap)
        self.me: Identity | None = None
        self.socket: SocketModeHandler | None = None
        self._ready = asyncio.Event()
        self._listen = frozenset(cfg.listen_channels)
        self._users: dict[str, tuple[float, UserInfo]] = {}
        self._dm_channels: dict[str, str] = {}
        self._up = False
        if cfg.mode == "http":
            if host.http is None:  # pragma: no cover - load_slack_settings refuses this
                raise SlackStartupError("Slack http mode needs http.enabled: true")
            host.http.add_route("POST", cfg.events_path, self._http_endpoint)
            if cfg.interactions_path != cfg.events_path:
                host.http.add_route("POST", cfg.interactions_path, self._http_endpoint)

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
            self.me = await check_auth(self.client, self.settings.api_url)
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
                await self.socket.close_async()  # type: ignore[no-untyped-call]
            self.socket = None

    async def _open_socket(self) -> None:
        from bot.adapters.slack.socket import BackoffSocketModeClient, SocketModeHandler

        assert self.settings.app_token is not None
        client = BackoffSocketModeClient(
            self.settings.app_token.get_secret_value(),
            web_client=AsyncWebClient(base_url=self.settings.api_url),
            ping_interval=self.settings.ping_interval,
            backoff=self.backoff,
        )
        self.socket = SocketModeHandler(self.bolt, client)
        try:
            await client.connect_once()
        except (SlackApiError, ClientError, OSError, TimeoutError) as exc:
            raise socket_error(exc) from None
        try:
            await asyncio.wait_for(client.hello.wait(), HELLO_TIMEOUT)
        except TimeoutError:
            raise SlackStartupError("Slack Socket Mode connected but never said hello") from None

    # -- inbound -------------------------------------------------------------------------------
    async def _http_endpoint(self, request: web.Request) -> web.Response:
        """Events API and interactivity requests; bolt verifies the signature and timestamp."""
        response = await self.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def _wait_ready(self) -> Identity:
        await asyncio.wait_for(self._ready.wait(), HELLO_TIMEOUT)
        assert self.me is not None
        return self.me

    async def _on_event(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Runs before the ack: translate and queue, nothing slow (no look-ups)."""
        me = await self._wait_ready()
        inner = (event.get("message") or {}) if event.get("subtype") == "message_changed" else event
        own = is_self(inner, me)
        if self.settings.ignore_bots and is_bot(inner) and not own:
            return
        message = to_message(event, me, user_name="", listen_channels=self._listen)
        if message is None:
            return
        message.from_self = own
        message.delivery_ids = tuple(dedupe_keys(body, event))
        await self.host.receive(message)

    async def _on_action(self, body: dict[str, Any]) -> None:
        """Runs after the ack (a bolt lazy listener): one Interaction per clicked button."""
        await self._wait_ready()
        for action in body.get("actions") or ():
            interaction = to_interaction(body, action)
            if interaction is None:
                continue
            interaction.delivery_ids = tuple(interaction_keys(body, action))
            interaction.user_name = await self._name_quickly(
                interaction.user_id, interaction.user_name
            )
            await self.host.interact(interaction)

    async def _name_quickly(self, user_id: str, default: str) -> str:
        try:
            info = await asyncio.wait_for(self.user_info(user_id), NAME_LOOKUP_TIMEOUT)
        except TimeoutError:
            return default or user_id
        return info.name if info.name != user_id else default


async def _ack(ack: Callable[[], Awaitable[Any]]) -> None:
    await ack()


async def _ignore() -> None:
    """Events nobody handles are still acknowledged (bolt acks events automatically)."""
