"""One Mattermost websocket session, built on mattermostautodriver's ``Websocket``.

The driver's own ``connect`` loops forever, reconnects after a fixed delay, logs a traceback per
drop and never resumes what was missed. Here one ``connect`` call is one session (authenticate,
``hello``, events until the socket closes) and the adapter owns back-off and REST catch-up.
The URL is built from our config, so a server under a base path works too.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from mattermostautodriver import Websocket

log = logging.getLogger(__name__)

EventHandler = Callable[[str], Awaitable[None]]


class WebsocketAuthError(Exception):
    """The server refused the token on the websocket (it is not retried)."""


def websocket_url(scheme: str, host: str, port: int, base_path: str) -> str:
    ws_scheme = "wss" if scheme == "https" else "ws"
    return f"{ws_scheme}://{host}:{port}{base_path}/api/v4/websocket"


class SessionWebsocket(Websocket):  # type: ignore[misc]  # the driver ships no types
    """``await connect(handler)`` runs one session and returns when the connection ends."""

    def __init__(self, options: dict[str, Any], token: str, url: str, *, heartbeat: float) -> None:
        super().__init__(options, token)
        self.url = url
        self.heartbeat = heartbeat
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.url.startswith("wss:"):
            return True  # aiohttp's default; unused for ws://
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
        if not self.options["verify"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def connect(self, event_handler: EventHandler) -> None:
        self._alive = True
        timeout = aiohttp.ClientWSTimeout(ws_close=5.0)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(
                self.url,
                ssl=self._ssl(),
                proxy=self.options["proxy"],
                heartbeat=self.heartbeat,
                timeout=timeout,
            ) as ws,
        ):
            self._ws = ws
            try:
                await self._authenticate_websocket(ws, event_handler)
                await self._start_loop(ws, event_handler)
            except (TypeError, aiohttp.ClientError, ConnectionError):
                # receive_str() raises WSMessageTypeError (a TypeError) once the socket closed
                pass
            finally:
                self._ws = None

    async def _authenticate_websocket(self, websocket: Any, event_handler: EventHandler) -> bool:
        challenge = {"seq": 1, "action": "authentication_challenge", "data": {"token": self._token}}
        await websocket.send_str(json.dumps(challenge))
        while True:
            raw = await websocket.receive_str()
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if message.get("seq_reply") == 1:
                if message.get("status") != "OK":
                    error = message.get("error") or {}
                    raise WebsocketAuthError(error.get("message") or "authentication failed")
                continue
            await event_handler(raw)
            if message.get("event") == "hello":
                return True

    async def close(self) -> None:
        """Stop the session now (the driver's ``disconnect`` only stops after the next event)."""
        self._alive = False
        ws = self._ws
        if ws is not None and not ws.closed:
            await ws.close()
