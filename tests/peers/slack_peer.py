"""A local Slack: the Web API over HTTP and Socket Mode over a WebSocket, on 127.0.0.1.

It speaks the real wire protocol to the real slack_sdk / slack-bolt clients, with payloads shaped
like Slack's documented ones (event_callback wrapper, app_mention, message + channel_type,
message_changed, block_actions, Socket Mode envelopes with retry_attempt / retry_reason):

    peer = await SlackPeer().start()
    settings: adapters.slack.api_url = peer.api_url, bot_token/app_token = peer.bot_token/...
    ts = await peer.say("UALICE", "<@UBOT> ping", channel="C1")   # app_mention + message
    posted = await peer.wait_posted(1)

Test controls: drop the socket, re-send an un-acked envelope, answer 429 (or a 5xx) for the next
N calls of a method, and post signed Events API / interactive requests to an HTTP endpoint.

Channel membership, for ``chat.postEphemeral``: a channel is open to everyone (the bot included)
unless ``set_members`` lists who is in it, and ``forget_channel`` makes it unknown. Ephemeral
messages are kept apart (``peer.ephemeral``), like Slack, which stores them nowhere: they cannot
be updated, deleted or threaded onto.

Size limits as Slack applies them: a message's ``text`` beyond 40,000 characters is truncated
(kept, cut); blocks with a section over 3,000 characters, or more than 50 blocks, are refused
with ``invalid_blocks``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

TEXT_LIMIT = 40_000
SECTION_LIMIT = 3_000
MAX_BLOCKS = 50
DEFAULT_SCOPES = (
    "app_mentions:read,channels:history,chat:write,groups:history,im:history,"
    "im:write,mpim:history,users:read,users:read.email"
)


@dataclass
class ApiCall:
    method: str
    args: dict[str, Any]
    at: float
    status: int = 200
    error: str | None = None


@dataclass
class Ephemeral:
    """A message only ``user`` sees (chat.postEphemeral)."""

    channel: str
    user: str
    text: str
    message_ts: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] | None = None


@dataclass
class Posted:
    """A message the bot posted (chat.postMessage), with its later edits and deletion."""

    channel: str
    ts: str
    text: str
    thread_ts: str | None = None
    blocks: list[dict[str, Any]] | None = None
    edits: list[str] = field(default_factory=list)
    deleted: bool = False

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [
            el
            for block in self.blocks or ()
            if block.get("type") == "actions"
            for el in block.get("elements", ())
        ]


class SlackPeer:
    def __init__(
        self,
        *,
        bot_token: str = "xoxb-peer-0000000000-bot-token",
        app_token: str = "xapp-1-peer-0000000000-app-token",
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "TPEER",
        scopes: str | None = DEFAULT_SCOPES,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self.scopes = scopes
        self.users: dict[str, dict[str, Any]] = {}
        self.calls: list[ApiCall] = []
        self.posted: list[Posted] = []
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> message
        self.ephemeral: list[Ephemeral] = []
        self.members: dict[str, set[str]] = {}  # channel -> who is in it (absent: everyone)
        self.unknown_channels: set[str] = set()
        self.acks: list[str] = []
        self.sent: dict[str, dict[str, Any]] = {}  # envelope id -> envelope
        self.connections = 0
        self.app_id = "APEER"
        self._rate_limits: dict[str, list[float]] = {}  # method -> [left, after]
        self._failures: dict[str, list[int]] = {}  # method -> [left, status, after]
        self._held: dict[str, asyncio.Event] = {}  # method -> answered once set
        self._ws: web.WebSocketResponse | None = None
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0
        for uid, name, email in (
            ("UALICE", "alice", "alice@example.org"),
            ("USAM", "sam", "sam@example.org"),
        ):
            self.add_user(uid, name, email)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> SlackPeer:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_get("/link/", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def add_user(
        self, user_id: str, name: str, email: str | None = None, *, is_bot: bool = False
    ) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name.title(),
            "is_bot": is_bot,
            "deleted": False,
            "profile": {"display_name": name, "real_name": name.title(), "email": email},
        }

    def set_members(self, channel: str, *users: str, bot: bool = True) -> None:
        """Only ``users`` (and the bot, unless ``bot=False``) are in ``channel``."""
        self.members[channel] = set(users) | ({self.bot_user_id} if bot else set())

    def forget_channel(self, channel: str) -> None:
        """``channel`` does not exist, or the bot cannot see it (a private channel)."""
        self.unknown_channels.add(channel)

    def is_member(self, channel: str, user: str) -> bool:
        members = self.members.get(channel)
        return members is None or user in members

    def next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Any, timeout: float = 5.0) -> None:
        async def waiter() -> None:
            async with self._changed:
                await self._changed.wait_for(predicate)

        await asyncio.wait_for(waiter(), timeout)

    # -- Web API -------------------------------------------------------------------------------
    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with 429 and ``Retry-After``."""
        self._rate_limits[method] = [times, retry_after]

    def fail(self, method: str, *, times: int = 1, status: int = 503, after: bool = False) -> None:
        """Answer the next ``times`` calls of ``method`` with a server error; with ``after``
        the call is carried out first (the answer is what gets lost)."""
        self._failures[method] = [times, status, after]

    def hold(self, method: str) -> None:
        """Calls of ``method`` get no answer until ``release(method)`` (a slow Slack)."""
        self._held[method] = asyncio.Event()

    def release(self, method: str) -> None:
        self._held.pop(method).set()

    def calls_of(self, method: str) -> list[ApiCall]:
        return [c for c in self.calls if c.method == method]

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                args.update(await request.json())
            else:
                args.update(await request.post())
        for key in ("blocks", "attachments"):
            if isinstance(args.get(key), str):
                args[key] = json.loads(args[key])
        return args

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        call = ApiCall(method, args, time.monotonic())
        self.calls.append(call)
        held = self._held.get(method)
        if held is not None:
            await self._notify()
            await held.wait()
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else str(args.pop("token", ""))
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        headers = {}
        if self.scopes is not None and token == self.bot_token:
            headers["X-OAuth-Scopes"] = self.scopes
        limit = self._rate_limits.get(method)
        if limit and limit[0] > 0:
            limit[0] -= 1
            call.status, call.error = 429, "ratelimited"
            await self._notify()
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(int(limit[1]))},
            )
        failure = self._failures.get(method)
        if failure and failure[0] > 0 and not failure[2]:
            return await self._fault(call, failure)
        if not token:
            body: dict[str, Any] = {"ok": False, "error": "not_authed"}
        elif token != expected:
            wrong_kind = token in (self.app_token, self.bot_token)
            body = {
                "ok": False,
                "error": "not_allowed_token_type" if wrong_kind else "invalid_auth",
            }
        else:
            handler = getattr(self, "_m_" + method.replace(".", "_"), None)
            body = handler(args) if handler else {"ok": False, "error": "unknown_method"}
        call.error = body.get("error")
        if failure and failure[0] > 0 and failure[2]:
            return await self._fault(call, failure)
        await self._notify()
        return web.json_response(body, headers=headers)

    async def _fault(self, call: ApiCall, failure: list[int]) -> web.Response:
        """Spend one of ``fail``'s answers: a server error instead of the real one."""
        failure[0] -= 1
        call.status, call.error = failure[1], "internal_error"
        await self._notify()
        return web.json_response({"ok": False, "error": "internal_error"}, status=failure[1])

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://peer.slack.test/",
            "team": "Peer",
            "user": "quartermaster",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}"}

    @staticmethod
    def _blocks_error(blocks: Any) -> dict[str, Any] | None:
        if not blocks:
            return None
        too_long = [
            i
            for i, b in enumerate(blocks)
            if b.get("type") == "section"
            and len((b.get("text") or {}).get("text", "")) > SECTION_LIMIT
        ]
        if len(blocks) > MAX_BLOCKS or too_long:
            where = f"[{too_long[0]}].text" if too_long else ""
            return {
                "ok": False,
                "error": "invalid_blocks",
                "errors": [
                    f"must be less than {SECTION_LIMIT + 1} characters "
                    f"[json-pointer:/blocks{where}]"
                    if too_long
                    else f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]"
                ],
            }
        return None

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if not channel or channel in self.unknown_channels:
            return {"ok": False, "error": "channel_not_found"}
        if not self.is_member(channel, self.bot_user_id):
            return {"ok": False, "error": "not_in_channel"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        refused = self._blocks_error(args.get("blocks"))
        if refused is not None:
            return refused
        args["text"] = str(args.get("text", ""))[:TEXT_LIMIT]
        thread = args.get("thread_ts") or None
        if thread is not None:
            parent = self.messages.get((channel, thread))
            if parent is None:
                return {"ok": False, "error": "thread_not_found"}
            if parent.get("thread_ts") not in (None, thread):
                # like Mattermost's root_id rule: a reply's ts is not a thread
                return {"ok": False, "error": "invalid_thread_ts"}
        ts = self.next_ts()
        message = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": args.get("text", ""),
            "ts": ts,
            "team": self.team_id,
        }
        if thread:
            message["thread_ts"] = thread
        if args.get("blocks"):
            message["blocks"] = args["blocks"]
        self.messages[(channel, ts)] = message
        self.posted.append(
            Posted(channel, ts, str(args.get("text", "")), thread, args.get("blocks"))
        )
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Like Slack: the bot and the user must be in the channel; nothing is stored that a
        later call could find (the ts is only good for the client that shows it)."""
        channel = str(args.get("channel") or "")
        user = str(args.get("user") or "")
        if not channel or channel in self.unknown_channels:
            return {"ok": False, "error": "channel_not_found"}
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        refused = self._blocks_error(args.get("blocks"))
        if refused is not None:
            return refused
        if not self.is_member(channel, self.bot_user_id):
            return {"ok": False, "error": "not_in_channel"}
        if user not in self.users or not self.is_member(channel, user):
            return {"ok": False, "error": "user_not_in_channel"}
        ts = self.next_ts()
        self.ephemeral.append(
            Ephemeral(
                channel,
                user,
                str(args.get("text", ""))[:TEXT_LIMIT],
                ts,
                args.get("thread_ts") or None,
                args.get("blocks"),
            )
        )
        return {"ok": True, "message_ts": ts}

    def _find_posted(self, channel: str, ts: str) -> Posted | None:
        return next((p for p in self.posted if p.channel == channel and p.ts == ts), None)

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._find_posted(str(args.get("channel")), str(args.get("ts")))
        if posted is None or posted.deleted:
            return {"ok": False, "error": "message_not_found"}
        refused = self._blocks_error(args.get("blocks"))
        if refused is not None:
            return refused
        posted.edits.append(posted.text)
        posted.text = str(args.get("text", ""))[:TEXT_LIMIT]
        if "blocks" in args:
            posted.blocks = args["blocks"] or None
        stored = self.messages.get((posted.channel, posted.ts))
        if stored is not None:  # what a later block_actions payload carries as "message"
            stored["text"] = posted.text
            stored["blocks"] = posted.blocks or []
        return {"ok": True, "channel": posted.channel, "ts": posted.ts, "text": posted.text}

    def _m_chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        posted = self._find_posted(str(args.get("channel")), str(args.get("ts")))
        if posted is None or posted.deleted:
            return {"ok": False, "error": "message_not_found"}
        posted.deleted = True
        return {"ok": True, "channel": posted.channel, "ts": posted.ts}

    def _m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "")
        if users not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + users.removeprefix("U")}}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(args.get("user")))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": user}

    # -- Socket Mode ---------------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._ws = ws
        self.connections += 1
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "peer", "approximate_connection_time": 3600},
                "connection_info": {"app_id": self.app_id},
            }
        )
        await self._notify()
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            if "envelope_id" in data:
                self.acks.append(data["envelope_id"])
                await self._notify()
        if self._ws is ws:
            self._ws = None
        await self._notify()
        return ws

    @property
    def socket_open(self) -> bool:
        return self._ws is not None and not self._ws.closed

    async def wait_connections(self, n: int, timeout: float = 5.0) -> None:
        await self.wait_for(lambda: self.connections >= n and self.socket_open, timeout)

    async def drop_socket(self, *, abrupt: bool = False) -> None:
        """Close the Socket Mode connection (a close frame, or just cut the TCP connection)."""
        ws = self._ws
        if ws is None:
            return
        self._ws = None
        if abrupt:
            transport = ws._req.transport if ws._req is not None else None
            if transport is not None:
                transport.abort()
        else:
            await ws.close()

    async def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> str:
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": kind,
            "accepts_response_payload": False,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        self.sent[envelope_id] = envelope
        if self._ws is None or self._ws.closed:
            raise ConnectionError("no Socket Mode connection to send on")
        await self._ws.send_json(envelope)
        return envelope_id

    async def resend(self, envelope_id: str, reason: str = "timeout") -> str:
        """Re-send an envelope the way Slack does when it was not acked in time."""
        old = self.sent[envelope_id]
        return await self.send_envelope(
            old["type"],
            old["payload"],
            envelope_id=envelope_id,
            retry_attempt=int(old.get("retry_attempt", 0)) + 1,
            retry_reason=reason,
        )

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> None:
        await self.wait_for(lambda: envelope_id in self.acks, timeout)

    def unacked(self) -> list[str]:
        return [e for e in self.sent if e not in self.acks]

    # -- events --------------------------------------------------------------------------------
    def event_callback(
        self, event: dict[str, Any], *, event_id: str | None = None
    ) -> dict[str, Any]:
        """Slack's event wrapper around ``event``."""
        return {
            "token": "peer-verification-token",
            "team_id": self.team_id,
            "api_app_id": self.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }

    def message(
        self,
        user: str,
        text: str,
        channel: str,
        *,
        thread_ts: str | None = None,
        ts: str | None = None,
        bot_id: str | None = None,
    ) -> dict[str, Any]:
        """A user's message, stored so that threads and edits can refer to it."""
        ts = ts or self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": user,
            "text": text,
            "ts": ts,
            "team": self.team_id,
            "client_msg_id": str(uuid.uuid4()),
        }
        if thread_ts:
            message["thread_ts"] = thread_ts
        if bot_id:
            message["bot_id"] = bot_id
        self.messages[(channel, ts)] = message
        return message

    @staticmethod
    def channel_type(channel: str) -> str:
        return {"D": "im", "G": "group"}.get(channel[:1], "channel")

    def message_event(self, message: dict[str, Any], channel: str) -> dict[str, Any]:
        event = dict(
            message,
            channel=channel,
            event_ts=message["ts"],
            channel_type=self.channel_type(channel),
        )
        event.pop("team", None)
        return event

    def app_mention_event(self, message: dict[str, Any], channel: str) -> dict[str, Any]:
        event = dict(message, type="app_mention", channel=channel, event_ts=message["ts"])
        event.pop("client_msg_id", None)
        return event

    async def say(
        self, user: str, text: str, channel: str, *, thread_ts: str | None = None
    ) -> tuple[str, list[str]]:
        """Deliver a user's message as Slack does: ``app_mention`` first when the bot is
        mentioned in a channel, then the ``message.*`` event; returns (ts, envelope ids)."""
        message = self.message(user, text, channel, thread_ts=thread_ts)
        envelopes = []
        if f"<@{self.bot_user_id}>" in text and not channel.startswith("D"):
            envelopes.append(
                await self.send_envelope(
                    "events_api", self.event_callback(self.app_mention_event(message, channel))
                )
            )
        envelopes.append(
            await self.send_envelope(
                "events_api", self.event_callback(self.message_event(message, channel))
            )
        )
        return message["ts"], envelopes

    def edit_event(self, channel: str, ts: str, new_text: str) -> dict[str, Any]:
        previous = dict(self.messages[(channel, ts)])
        edited = dict(
            previous, text=new_text, edited={"user": previous.get("user"), "ts": self.next_ts()}
        )
        self.messages[(channel, ts)] = edited
        return {
            "type": "message",
            "subtype": "message_changed",
            "hidden": True,
            "channel": channel,
            "channel_type": self.channel_type(channel),
            "ts": edited["edited"]["ts"],
            "event_ts": edited["edited"]["ts"],
            "message": edited,
            "previous_message": previous,
        }

    def block_actions(self, user: str, posted: Posted, label: str) -> dict[str, Any]:
        """The ``block_actions`` payload of ``user`` clicking the button ``label``."""
        button = next(b for b in posted.buttons if b["text"]["text"] == label)
        block_id = next(
            bl.get("block_id") for bl in posted.blocks or () if button in bl.get("elements", ())
        )
        info = self.users[user]
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": posted.ts,
            "channel_id": posted.channel,
            "is_ephemeral": False,
        }
        message = dict(self.messages[(posted.channel, posted.ts)])
        if posted.thread_ts:
            container["thread_ts"] = posted.thread_ts
        return {
            "type": "block_actions",
            "user": {
                "id": user,
                "username": info["name"],
                "name": info["name"],
                "team_id": self.team_id,
            },
            "api_app_id": self.app_id,
            "token": "peer-verification-token",
            "container": container,
            "trigger_id": f"{next(self._ts)}.{uuid.uuid4().hex[:8]}",
            "team": {"id": self.team_id, "domain": "peer"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": posted.channel, "name": posted.channel.lower()},
            "message": message,
            "state": {"values": {}},
            "response_url": f"http://127.0.0.1:{self.port}/actions/{uuid.uuid4().hex}",
            "actions": [
                {
                    "action_id": button["action_id"],
                    "block_id": block_id,
                    "text": button["text"],
                    "value": button.get("value"),
                    "type": "button",
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }

    async def click(self, user: str, posted: Posted, label: str) -> str:
        return await self.send_envelope("interactive", self.block_actions(user, posted, label))

    async def wait_ephemeral(self, n: int = 1, timeout: float = 5.0) -> list[Ephemeral]:
        await self.wait_for(lambda: len(self.ephemeral) >= n, timeout)
        return self.ephemeral

    async def wait_posted(self, n: int = 1, timeout: float = 5.0) -> list[Posted]:
        await self.wait_for(lambda: len(self.posted) >= n, timeout)
        return self.posted


def sign(secret: str, timestamp: str, body: str) -> str:
    """Slack's v0 request signature."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


async def post_signed(
    url: str,
    payload: dict[str, Any],
    *,
    secret: str,
    form: bool = False,
    timestamp: int | None = None,
    signature: str | None = None,
    retry_num: int | None = None,
) -> tuple[int, str]:
    """POST an Events API (JSON) or interactive (``payload=`` form) request, signed like Slack."""
    if form:
        body = urlencode({"payload": json.dumps(payload)})
        content_type = "application/x-www-form-urlencoded"
    else:
        body = json.dumps(payload)
        content_type = "application/json"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or sign(secret, ts, body),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as resp,
    ):
        return resp.status, await resp.text()


# -- set-up helpers for tests that run the real Application against the peer -------------------
SKILL_SOURCE = '''
"""A tiny skill for the Slack adapter tests."""
from bot.events import Choice
from bot.skill import Skill

skill = Skill("slacktest", "exercises the Slack adapter")


@skill.command(r"ping")
async def ping(ctx):
    await ctx.reply("pong")


@skill.command(r"echo (?P<text>.+)")
async def echo(ctx):
    suffix = " (edited)" if ctx.message.edited else ""
    await ctx.reply("echo: " + ctx.match["text"] + suffix)


@skill.command(r"approve me")
async def ask(ctx):
    await ctx.reply("Approve REQ-1?", choices=[
        Choice("Approve", "slacktest.approve", "REQ-1", "primary"),
        Choice("Deny", "slacktest.deny", "REQ-1", "danger")])


@skill.action("slacktest.approve")
async def approve(ctx):
    await ctx.reply(f"approved {ctx.interaction.value} by {ctx.user_name}")


@skill.action("slacktest.deny")
async def deny(ctx):
    await ctx.reply(f"denied {ctx.interaction.value}")


@skill.command(r"ask my name")
async def ask_name(ctx):
    await ctx.expect("slacktest.name")
    await ctx.reply("What is your name?")


@skill.followup("slacktest.name")
async def got_name(ctx):
    await ctx.done()
    await ctx.reply(f"hello {ctx.message.text}")


@skill.command(r"who am i")
async def who_am_i(ctx):
    await ctx.reply(f"you are {ctx.user_name}")


@skill.command(r"dm me")
async def dm(ctx):
    await ctx.dm("a private word")


@skill.command(r"whois")
async def whois(ctx):
    info = await ctx.adapter.user_info(ctx.user_id)
    await ctx.reply(f"{info.name} <{info.email}> {ctx.adapter.mention(ctx.user_id)}")


@skill.command(r"revise")
async def revise(ctx):
    ref = await ctx.reply("draft")
    await ctx.adapter.update(ref, "final")
    gone = await ctx.reply("temporary")
    await ctx.adapter.delete(gone)
'''


def write_skill_package(root: Any) -> str:
    """Write the test skill package under ``root`` (put on sys.path) and return its name."""
    name = f"slacktest_{uuid.uuid4().hex[:8]}"
    package = root / name
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "slacktest.py").write_text(SKILL_SOURCE)
    return name


#: what Slack renders live in a message's text: ``<@U…>``, ``<!channel>``, ``<#C…>``, links
_LIVE = re.compile(r"<([^<>]+)>")


def live_markup(text: str) -> list[str]:
    """The control sequences in ``text`` that Slack makes live (mentions, broadcasts, links);
    an escaped ``&lt;!channel&gt;`` shows as typed and is not one."""
    return _LIVE.findall(text)


def settings_for(
    peer: SlackPeer, tmp_path: Any, package: str, *, slack: dict[str, Any] | None = None, **top: Any
) -> Any:
    """Settings for an Application whose only platform is Slack, pointed at ``peer``."""
    from bot.config import Settings

    raw: dict[str, Any] = {
        "adapters": {
            "shell": {"enabled": False},
            "slack": {
                "enabled": True,
                "bot_token": peer.bot_token,
                "app_token": peer.app_token,
                "api_url": peer.api_url,
                "pace_seconds": 0,
                "ping_interval": 0.3,
                "reconnect_base": 0.05,
                "reconnect_cap": 0.5,
                **(slack or {}),
            },
        },
        "database": {"url": f"sqlite://{tmp_path / 'slack.sqlite3'}"},
        "rate_limit": {"enabled": False},
        "skills": {"packages": [package]},
    }
    raw.update(top)
    return Settings.model_validate(raw)
