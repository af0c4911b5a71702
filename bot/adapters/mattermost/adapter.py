"""The Mattermost adapter: websocket events in, REST v4 calls out, through mattermostautodriver.

This module holds the lifecycle: log in, pick the teams, read the post size limit, keep the
websocket up (reconnecting with back-off and jitter; each ``hello`` triggers a catch-up over
REST, see ``inbound``) and close everything at stop. ``outbound`` sends (posts, patches — never
a whole-post PUT —, deletes and buttons whose clicks come back to the bot's HTTP server, signed
with the per-install action secret); no System Admin role is needed. 5xx answers and dropped
connections are retried (``rest.call``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from mattermostautodriver import AsyncTypedDriver
from mattermostautodriver.exceptions import (
    InvalidMattermostError,
    MattermostError,
    NoAccessTokenProvided,
    NotEnoughPermissions,
)

from bot import logs
from bot.adapter import Host
from bot.adapters.mattermost import events as ev
from bot.adapters.mattermost.config import action_secret, load
from bot.adapters.mattermost.cursors import NAMESPACE, Cursors
from bot.adapters.mattermost.inbound import MattermostInbound
from bot.adapters.mattermost.rest import RetryPolicy, describe, driver_options, safe_url
from bot.adapters.mattermost.ws import SessionWebsocket, WebsocketAuthError, websocket_url
from bot.backoff import Backoff
from bot.config import Settings
from bot.errors import ConfigError, QuartermasterError
from bot.events import UserInfo
from bot.outbox import Outbox
from bot.textsplit import MIN_LIMIT, PartIndex

log = logging.getLogger(__name__)
_TOKENS: set[str] = set()


# The driver logs every API error response at ERROR on this logger, including the ones handled
# here (a 401 at start becomes one clear line; a root_id 400 is retried on the root). Failures
# that are not handled reach our own log through the exception.
logging.getLogger("mattermostautodriver.websocket").setLevel(logging.CRITICAL)


class MattermostStartupError(QuartermasterError):
    """The adapter cannot start; the message is one line an operator can act on."""


def _redact_tokens(text: str) -> str:
    for token in _TOKENS:
        text = text.replace(token, "[redacted]")
    return text


class MattermostAdapter(MattermostInbound):
    platform = "mattermost"

    @classmethod
    def validate_settings(cls, settings: Settings) -> None:
        """``adapters.mattermost`` keys, checked by ``quartermaster config check``."""
        load(settings)

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.cfg = load(host.settings)
        token = self.cfg.token.get_secret_value()
        if len(token) >= 8:
            _TOKENS.add(token)
            logs.add_redactor(_redact_tokens)
        if host.http is None:
            raise ConfigError(
                "adapters.mattermost: buttons need the bot's HTTP server; set "
                "http.enabled: true (and http.public_url or "
                "adapters.mattermost.actions_url to an address the Mattermost "
                "server can reach)"
            )
        self._secret = action_secret(self.cfg)
        self._click_lock = asyncio.Lock()
        host.http.add_route("POST", self.cfg.actions_path, self._on_action)
        self.url = safe_url(self.cfg)
        self.driver = AsyncTypedDriver(driver_options(self.cfg))
        self.outbox = Outbox(min_interval=self.cfg.min_post_interval)  # posts, per channel
        self.reads = Outbox()  # look-ups, catch-up
        self.retry = RetryPolicy(
            self.cfg.retries, self.cfg.retry_base_seconds, self.cfg.retry_max_seconds
        )
        self.max_post_size = self.cfg.max_post_size  # the server's MaxPostSize once known
        self.parts = PartIndex(host.kv, self.platform)
        self.cursors = Cursors(
            host.kv.namespace(NAMESPACE), max_age_minutes=self.cfg.restart_catchup_minutes
        )
        self.backoff = Backoff(
            base=self.cfg.reconnect_base_seconds, cap=self.cfg.reconnect_max_seconds
        )
        self.bot_id = ""
        self.bot_name = ""
        self.team_ids: list[str] = []
        self.reconnects = 0
        self._mention = ev.mention_pattern(host.name)
        self._users: dict[str, tuple[float, UserInfo, str]] = {}
        self._channels = {}
        self._dm_channels: dict[str, str] = {}
        self._by_name: dict[str, str] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._synced = False
        self._ready = asyncio.Event()
        self._closing = False
        self._session: SessionWebsocket | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        await self._login()
        await self._pick_teams()
        await self._read_post_limit()
        if not (self.cfg.actions_url or self.host.settings.http.public_url):
            log.warning(
                "mattermost: neither adapters.mattermost.actions_url nor "
                "http.public_url is set; buttons call back %s",
                self.actions_url,
            )
        self._closing = False
        self._synced = await self.cursors.restore(self.bot_id)
        self._keeper = asyncio.create_task(
            self.cursors.keep(self.bot_id, self.cfg.cursor_save_seconds), name="mattermost-cursors"
        )
        self._task = asyncio.create_task(self._run(), name="mattermost-websocket")
        ready = asyncio.create_task(self._ready.wait())
        try:
            done, _ = await asyncio.wait(
                {ready, self._task},
                timeout=self.cfg.connect_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
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
                f"{self.cfg.connect_timeout:.0f} s (does a proxy block websockets?)"
            )
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
                "adapters.mattermost.token"
            ) from None
        except (httpx.HTTPError, MattermostError, InvalidMattermostError, OSError) as exc:
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: cannot reach {where}: {describe(exc)} (check adapters.mattermost.url)"
            ) from None
        if not isinstance(me, dict) or not me.get("id"):
            await self._close_clients()
            raise MattermostStartupError(
                f"mattermost: {where} did not answer with a user as JSON; is "
                "adapters.mattermost.url a Mattermost server?"
            )
        self.bot_id, self.bot_name = me["id"], me.get("username") or me["id"]
        self._mention = ev.mention_pattern(self.bot_name)

    async def _pick_teams(self) -> None:
        try:
            teams = await self._read(
                lambda: self.driver.teams.get_teams_for_user("me"), what="GET /users/me/teams"
            )
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
                    f"{wanted!r}; add it to the team or fix adapters.mattermost.team"
                )
        self.team_ids = [t["id"] for t in teams]

    async def _read_post_limit(self) -> None:
        """``MaxPostSize`` from the client config (any logged-in user may read it; only with
        ``format=old``); the ``max_post_size`` setting when the server does not say."""
        try:
            config = await self._read(
                lambda: self.driver.client.get("/api/v4/config/client", params={"format": "old"}),
                what="GET /config/client",
            )
            size = int(config["MaxPostSize"])
        except (httpx.HTTPError, InvalidMattermostError, LookupError, TypeError, ValueError) as exc:
            reason = (
                describe(exc)
                if isinstance(exc, httpx.HTTPError | InvalidMattermostError)
                else "no MaxPostSize in the client config"
            )
            log.info(
                "mattermost: post size limit not read from the server (%s); splitting "
                "replies at %d characters",
                reason,
                self.max_post_size,
            )
            return
        if size >= MIN_LIMIT:
            self.max_post_size = size

    async def disconnect(self) -> None:
        self._closing = True
        self.connected = False
        try:
            await self.cursors.save(self.bot_id)
        except Exception as exc:
            log.warning("mattermost: could not save catch-up positions: %s", describe(exc))
        if self._session is not None:
            with contextlib.suppress(Exception):
                await self._session.close()
        for task in (self._task, self._keeper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
        self._task = self._keeper = None
        await self._close_clients()

    async def _close_clients(self) -> None:
        with contextlib.suppress(Exception):
            await self.driver.close()

    # -- the websocket and its reconnect loop --------------------------------------------------
    async def _run(self) -> None:
        url = websocket_url(
            self.cfg.scheme, self.driver.options["url"], self.cfg.port, self.cfg.base_path
        )
        while not self._closing:
            self._session = SessionWebsocket(
                self.driver.options,
                self.cfg.token.get_secret_value(),
                url,
                heartbeat=self.cfg.heartbeat_seconds,
            )
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
