"""Socket Mode with exponential back-off: slack_sdk's aiohttp client, reconnecting our way.

The stock client retries a failed connection every ``ping_interval`` seconds with the same
(single-use) WebSocket URL. Here each attempt asks ``apps.connections.open`` for a fresh URL and
waits ``Backoff`` (exponential, full jitter) between attempts; the delay resets on ``hello``.
Acks stay with slack-bolt: an envelope is acked after its listener returned, so an envelope lost
with a dropped socket is re-sent by Slack and the de-duplication drops the second copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_base_handler import AsyncBaseSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.backoff import Backoff

log = logging.getLogger(__name__)


class BackoffSocketModeClient(SocketModeClient):
    """slack_sdk's aiohttp Socket Mode client whose reconnects back off exponentially."""

    def __init__(
        self, app_token: str, *, web_client: AsyncWebClient, ping_interval: float, backoff: Backoff
    ) -> None:
        super().__init__(
            app_token,
            web_client=web_client,
            ping_interval=ping_interval,
            logger=logging.getLogger("slack_sdk.socket_mode"),
        )
        self.backoff = backoff
        self.connections = 0  # successful connects (for health and tests)
        self.hello = asyncio.Event()
        self.message_listeners.append(self._on_message)

    async def _on_message(self, client: Any, message: dict[str, Any], raw: str | None) -> None:
        if message.get("type") == "hello":
            self.backoff.reset()
            self.hello.set()

    async def connect_once(self) -> None:
        """One attempt: a fresh URL, then the WebSocket; raises instead of retrying."""
        self.wss_uri = await self.issue_new_wss_url()
        self.auto_reconnect_enabled = False
        old = self.current_session
        if old is not None and not old.closed:
            with contextlib.suppress(Exception):
                await old.close()
        self.current_session = await self.aiohttp_client_session.ws_connect(
            self.wss_uri, autoping=False, heartbeat=self.ping_interval
        )
        self.auto_reconnect_enabled = self.default_auto_reconnect_enabled
        self.stale = False
        self.last_ping_pong_time = None
        self.connections += 1
        await self.current_session.ping(f"sdk-ping-pong:{time.time()}".encode())
        if self.current_session_monitor is not None:
            self.current_session_monitor.cancel()
        self.current_session_monitor = asyncio.ensure_future(self.monitor_current_session())
        if self.message_receiver is not None:
            self.message_receiver.cancel()
        self.message_receiver = asyncio.ensure_future(self.receive_messages())

    async def connect(self) -> None:
        """Connect, retrying with back-off until connected or closed."""
        while not self.closed:
            try:
                await self.connect_once()
                return
            except Exception as exc:
                if self.closed:
                    return
                delay = self.backoff.next_delay()
                log.warning(
                    "Slack Socket Mode connection failed (%s); retrying in %.2f s",
                    _describe(exc),
                    delay,
                )
                await asyncio.sleep(delay)

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """Called by the SDK on CLOSE, a stale heartbeat or a ``disconnect`` envelope."""
        acquired: bool
        try:
            acquired = await asyncio.wait_for(self.connect_operation_lock.acquire(), timeout=5)
        except TimeoutError:
            acquired = False
        try:
            if self.closed or not (force or (acquired and not await self.is_connected())):
                return
            self.hello.clear()
            delay = self.backoff.next_delay()
            log.info("Slack Socket Mode connection lost; reconnecting in %.2f s", delay)
            await asyncio.sleep(delay)
            await self.connect()
        finally:
            if acquired:
                self.connect_operation_lock.release()


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class SocketModeHandler(AsyncBaseSocketModeHandler):
    """slack-bolt's Socket Mode handler, on the back-off client (built inside the loop)."""

    app: AsyncApp
    client: BackoffSocketModeClient

    def __init__(self, app: AsyncApp, client: BackoffSocketModeClient) -> None:
        self.app = app
        self.client = client
        client.socket_mode_request_listeners.append(self.handle)

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        start = time.time()
        response = await run_async_bolt_app(self.app, req)
        await send_async_response(client, req, response, start)
