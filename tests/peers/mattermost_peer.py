"""A local Mattermost protocol peer: REST v4 and the websocket, on 127.0.0.1, for real clients.

It speaks what mattermostautodriver and our adapter use, with Mattermost's documented shapes:
``Content-Type`` exactly ``application/json`` (the driver returns raw responses otherwise),
bearer tokens, the JSON error body (``id``, ``message``, ``request_id``, ``status_code``), the
``root_id`` rule (400 ``api.post.create_post.root_id.app_error`` unless it names a root post
of the same channel), ``PUT /posts/{id}/patch`` vs. the whole-post ``PUT /posts/{id}``, and
429 with Retry-After on demand, and 5xx or a dropped connection on demand, before or after
the request was carried out (``fail``). Posts longer than ``max_post_size`` characters are
refused with 400 ``model.post.is_valid.message_length.app_error`` (create and patch), the limit
is published as ``MaxPostSize`` in ``GET /config/client?format=old`` (501 without the format,
as the real server), and a ``pending_post_id`` seen in the last 30 s answers with the post it
already made (``App.deduplicateCreatePost``). The websocket answers
``authentication_challenge``, sends ``hello`` (seq 0) and then ``posted`` / ``post_edited``
events whose ``post`` and ``mentions`` are JSON strings, with per-connection seq numbers; it
can drop or refuse connections, and it keeps every post so ``GET /channels/{id}/posts?since=``
can serve a catch-up.

    async with MattermostPeer() as peer:
        alice = peer.add_user("alice")
        town = peer.add_channel("town-square", members=[alice, peer.bot_id])
        await peer.post_as(alice, town, "@quartermaster ping")
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

JSON = "application/json"
_ALPHABET = string.ascii_lowercase + string.digits
USER: web.RequestKey[str] = web.RequestKey("user_id", str)
BODY: web.RequestKey[Any] = web.RequestKey("body", object)


def new_id() -> str:
    """Mattermost ids are 26 lowercase letters and digits."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(26))


def now_ms() -> int:
    return int(time.time() * 1000)


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (no charset)."""
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def error(status: int, error_id: str, message: str) -> web.Response:
    return reply(
        {
            "id": error_id,
            "message": message,
            "detailed_error": "",
            "request_id": new_id(),
            "status_code": status,
        },
        status,
    )


@dataclass
class Socket:
    ws: web.WebSocketResponse
    user_id: str
    request: web.Request
    seq: int = 0

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq


@dataclass
class Call:
    method: str
    path: str
    body: Any = None


#: the server's at-mention rule (``\B@[[:alnum:]][[:alnum:]\.\-_:]*``, ASCII classes)
AT_MENTION = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z0-9][A-Za-z0-9.\-_:]*)")

#: status of a fault that closes the connection without any answer
DROP = 0
LENGTH_ERROR = "model.post.is_valid.message_length.app_error"
PENDING_TTL = 30.0  # seconds the server remembers a pending_post_id


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    count: int
    status: int = 429
    retry_after: str = "1"
    after: bool = False  # carry the request out, then answer with the fault
    html: bool = False  # a proxy's HTML error page instead of Mattermost's JSON error


@dataclass
class Click:
    status: int
    body: Any


@dataclass
class MattermostPeer:
    token: str = "bot-token-0123456789abcdef"
    bot_username: str = "quartermaster"
    base_path: str = ""
    team_name: str = "helpdesk"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> user id
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sockets: list[Socket] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    accepting_websockets: bool = True
    ws_connections: int = 0
    max_post_size: int = 16383
    publish_post_size: bool = True  # MaxPostSize in the client config
    pending: dict[str, tuple[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.team = {
            "id": new_id(),
            "name": self.team_name,
            "display_name": "Helpdesk",
            "type": "O",
            "create_at": now_ms(),
            "update_at": now_ms(),
            "delete_at": 0,
        }
        self.bot_id = self.add_user(
            self.bot_username, is_bot=True, first_name="Quarter", last_name="Master"
        )
        self.tokens[self.token] = self.bot_id
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0
        self._changed = asyncio.Condition()

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> MattermostPeer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        api = f"{self.base_path}/api/v4"
        r = app.router
        r.add_get(f"{api}/websocket", self._websocket)
        r.add_get(f"{api}/users/{{user_id}}", self._get_user)
        r.add_get(f"{api}/users/{{user_id}}/teams", self._get_teams)
        r.add_get(f"{api}/users/{{user_id}}/teams/{{team_id}}/channels", self._team_channels)
        r.add_post(f"{api}/posts", self._create_post)
        r.add_get(f"{api}/posts/{{post_id}}", self._get_post)
        r.add_put(f"{api}/posts/{{post_id}}", self._put_post)
        r.add_put(f"{api}/posts/{{post_id}}/patch", self._patch_post)
        r.add_delete(f"{api}/posts/{{post_id}}", self._delete_post)
        r.add_post(f"{api}/channels/direct", self._direct)
        r.add_get(f"{api}/channels/{{channel_id}}", self._get_channel)
        r.add_get(f"{api}/channels/{{channel_id}}/posts", self._channel_posts)
        r.add_get(f"{api}/channels/{{channel_id}}/members/{{user_id}}", self._channel_member)
        r.add_get(f"{api}/config/client", self._client_config)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}{self.base_path}"
        return self.url

    async def stop(self) -> None:
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the world -----------------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        *,
        is_bot: bool = False,
        first_name: str = "",
        last_name: str = "",
        email: str | None = None,
    ) -> str:
        uid = new_id()
        self.users[uid] = {
            "id": uid,
            "username": username,
            "first_name": first_name or username.title(),
            "last_name": last_name,
            "nickname": "",
            "email": email or f"{username}@example.org",
            "is_bot": is_bot,
            "roles": "system_user",
            "locale": "en",
            "create_at": now_ms(),
            "update_at": now_ms(),
            "delete_at": 0,
            "auth_service": "",
        }
        return uid

    def user_token(self, user_id: str) -> str:
        token = new_id()
        self.tokens[token] = user_id
        return token

    def add_channel(self, name: str, *, members: list[str], kind: str = "O") -> str:
        cid = new_id()
        self.channels[cid] = {
            "id": cid,
            "team_id": self.team["id"],
            "type": kind,
            "name": name,
            "display_name": name.replace("-", " ").title(),
            "header": "",
            "purpose": "",
            "create_at": now_ms(),
            "update_at": now_ms(),
            "delete_at": 0,
            "last_post_at": 0,
            "last_root_post_at": 0,
            "total_msg_count": 0,
            "creator_id": "",
        }
        self.members[cid] = set(members)
        return cid

    def dm_channel(self, a: str, b: str) -> str:
        name = "__".join(sorted((a, b)))
        for cid, channel in self.channels.items():
            if channel["name"] == name and channel["type"] == "D":
                return cid
        cid = self.add_channel(name, members=[a, b], kind="D")
        self.channels[cid]["team_id"] = ""
        self.channels[cid]["display_name"] = ""
        return cid

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        count: int = 1,
        status: int = 429,
        retry_after: str = "1",
        after: bool = False,
        html: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` (429: Retry-After;
        ``DROP``: close the connection unanswered). ``after``: carry the request out first, as
        when a proxy times out on a server that did the work; ``html``: a proxy's error page."""
        self.faults.append(
            Fault(method.upper(), re.compile(path_regex), count, status, retry_after, after, html)
        )

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method and pattern.search(c.path)]

    # -- acting as users -----------------------------------------------------------------------
    async def post_as(
        self,
        user_id: str,
        channel_id: str,
        message: str,
        *,
        root_id: str = "",
        props: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Post as a user (as the web app would) and broadcast it to connected websockets."""
        post, problem = self._new_post(user_id, channel_id, message, root_id, props or {})
        if problem is not None:
            raise ValueError(problem)
        await self._broadcast_posted(post)
        return post

    def store_post(
        self, user_id: str, channel_id: str, message: str, *, root_id: str = ""
    ) -> dict[str, Any]:
        """Create a post without broadcasting it (as if its event was lost)."""
        post, problem = self._new_post(user_id, channel_id, message, root_id, {})
        if problem is not None:
            raise ValueError(problem)
        return post

    async def edit_as(self, post_id: str, message: str) -> dict[str, Any]:
        post = self.posts[post_id]
        post["message"] = message
        post["edit_at"] = post["update_at"] = now_ms()
        await self._broadcast_edited(post)
        return post

    async def redeliver(self, post_id: str) -> None:
        """Send the ``posted`` event of an existing post again (a replay after a reconnect)."""
        await self._broadcast_posted(self.posts[post_id])

    async def drop_websockets(self, *, abrupt: bool = False) -> None:
        """Close every websocket (``abrupt``: reset the TCP connection, as a proxy would)."""
        sockets, self.sockets = self.sockets, []
        for sock in sockets:
            if abrupt and sock.request.transport is not None:
                sock.request.transport.abort()
            else:
                await sock.ws.close()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every change); returns it."""

        async def waiter() -> Any:
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

        return await asyncio.wait_for(waiter(), timeout)

    def notified(self, post: dict[str, Any]) -> set[str]:
        """Who the server notifies for ``post``'s mentions, by its rule ``\\B@[[:alnum:]]…``
        (ASCII): ``@name`` of a member, every member for ``@channel``, ``@all``, ``@here``."""
        members = self.members[post["channel_id"]] - {post["user_id"]}
        by_name = {u["username"]: uid for uid, u in self.users.items()}
        out: set[str] = set()
        for word in AT_MENTION.findall(post["message"]):
            word = word.rstrip(".-_:").lower()
            if word in ("channel", "all", "here"):
                out |= members
            elif by_name.get(word) in members:
                out.add(by_name[word])
        return out

    @staticmethod
    def links(post: dict[str, Any]) -> list[tuple[str, str]]:
        """Markdown links whose label hides the address: ``[label](url)``, ``[label][ref]``."""
        return re.findall(r"\[([^\]\n]*)\]\(([^)\s]*)\)", post["message"]) + re.findall(
            r"\[([^\]\n]*)\]\[([^\]\n]*)\]", post["message"]
        )

    def bot_posts(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        return [
            p
            for p in self.posts.values()
            if p["user_id"] == self.bot_id and (channel_id is None or p["channel_id"] == channel_id)
        ]

    async def click(
        self,
        user_id: str,
        post_id: str,
        label: str,
        *,
        context: dict[str, Any] | None = None,
        url: str | None = None,
        forge: dict[str, Any] | None = None,
    ) -> Click:
        """Click a button as Mattermost does: POST the stored integration context to its URL.

        ``forge`` overrides fields of the body, as someone posting to the URL directly would."""
        post = self.posts[post_id]
        action = next(
            a
            for att in post["props"].get("attachments", ())
            for a in att.get("actions", ())
            if a["name"] == label
        )
        integration = action["integration"]
        channel = self.channels[post["channel_id"]]
        payload = {
            "user_id": user_id,
            "user_name": self.users[user_id]["username"] if user_id in self.users else "",
            "channel_id": post["channel_id"],
            "channel_name": channel["name"],
            "team_id": channel["team_id"],
            "team_domain": self.team["name"],
            "post_id": post_id,
            "trigger_id": new_id(),
            "type": "",
            "data_source": "",
            "context": integration.get("context", {}) if context is None else context,
            **(forge or {}),
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url or integration["url"], json=payload) as resp,
        ):
            body = await resp.json(content_type=None)
            return Click(resp.status, body)

    # -- plumbing ------------------------------------------------------------------------------
    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = await request.text()
        self.calls.append(Call(request.method, request.path, body))
        fault = next(
            (
                f
                for f in self.faults
                if f.count > 0 and f.method == request.method and f.pattern.search(request.path)
            ),
            None,
        )
        if fault is not None:
            fault.count -= 1
            if fault.after:
                await self._authorised(request, body, handler)
            return self._fault_answer(request, fault)
        return await self._authorised(request, body, handler)

    @staticmethod
    def _fault_answer(request: web.Request, fault: Fault) -> web.Response:
        if fault.status == DROP:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client
        if fault.status == 429:
            return web.Response(
                text="limit exceeded", status=429, headers={"Retry-After": fault.retry_after}
            )
        if fault.html:
            return web.Response(
                text=f"<html><body><h1>{fault.status}</h1>nginx</body></html>",
                status=fault.status,
                content_type="text/html",
            )
        return error(fault.status, "peer.fault", "injected failure")

    async def _authorised(
        self, request: web.Request, body: Any, handler: Any
    ) -> web.StreamResponse:
        if request.path.endswith("/websocket"):
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        user_id = self.tokens.get(token)
        if user_id is None:
            return error(
                401,
                "api.context.session_expired.app_error",
                "Invalid or expired session, please login again.",
            )
        request[USER] = user_id
        request[BODY] = body
        return await handler(request)

    def _user_param(self, request: web.Request) -> str:
        uid = request.match_info["user_id"]
        return request[USER] if uid == "me" else uid

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(self._user_param(request))
        if user is None:
            return error(404, "store.sql_user.missing_account.const", "Unable to find the user.")
        return reply(user)

    async def _get_teams(self, request: web.Request) -> web.Response:
        if self._user_param(request) != request[USER]:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        return reply([self.team])

    async def _team_channels(self, request: web.Request) -> web.Response:
        uid = self._user_param(request)
        if uid != request[USER]:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        if request.match_info["team_id"] != self.team["id"]:
            return error(404, "app.team.get.find.app_error", "Unable to find the team.")
        mine = [c for cid, c in self.channels.items() if uid in self.members[cid]]
        return reply(mine)

    async def _get_channel(self, request: web.Request) -> web.Response:
        cid = request.match_info["channel_id"]
        if cid not in self.channels or request[USER] not in self.members[cid]:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        return reply(self.channels[cid])

    async def _channel_member(self, request: web.Request) -> web.Response:
        """A member's record; 404 for a user who is not in the channel (or does not exist)."""
        cid, uid = request.match_info["channel_id"], self._user_param(request)
        if cid not in self.channels or request[USER] not in self.members[cid]:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        if uid not in self.users or uid not in self.members[cid]:
            return error(404, "app.channel.get_member.missing.app_error", "No channel member found")
        return reply(
            {
                "channel_id": cid,
                "user_id": uid,
                "roles": "channel_user",
                "last_viewed_at": 0,
                "msg_count": 0,
                "mention_count": 0,
                "notify_props": {},
                "last_update_at": now_ms(),
                "scheme_user": True,
                "scheme_admin": False,
            }
        )

    async def _direct(self, request: web.Request) -> web.Response:
        ids = request[BODY]
        if not (isinstance(ids, list) and len(ids) == 2 and all(i in self.users for i in ids)):
            return error(
                400,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing user_ids in request body.",
            )
        if request[USER] not in ids:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        return reply(self.channels[self.dm_channel(ids[0], ids[1])], 201)

    async def _client_config(self, request: web.Request) -> web.Response:
        if request.query.get("format") != "old":
            return error(
                501,
                "api.config.client.old_format.app_error",
                "New format for the "
                "client configuration is not supported yet. Please specify "
                "format=old in the query string.",
            )
        config = {"Version": "10.5.0", "SiteName": "Mattermost", "NoAccounts": "false"}
        if self.publish_post_size:
            config["MaxPostSize"] = str(self.max_post_size)
        return reply(config)

    def _too_long(self, message: Any) -> web.Response | None:
        if isinstance(message, str) and len(message) > self.max_post_size:
            return error(
                400,
                LENGTH_ERROR,
                "Post Message property is longer than the maximum permitted length.",
            )
        return None

    def _new_post(
        self, user_id: str, channel_id: str, message: str, root_id: str, props: dict[str, Any]
    ) -> tuple[dict[str, Any], str | None]:
        if channel_id not in self.channels or user_id not in self.members[channel_id]:
            return {}, "api.context.permissions.app_error"
        if len(message) > self.max_post_size:
            return {}, LENGTH_ERROR
        if root_id:
            root = self.posts.get(root_id)
            if root is None or root["root_id"] or root["channel_id"] != channel_id:
                return {}, "api.post.create_post.root_id.app_error"
        props = copy.deepcopy(props)
        if self.users[user_id]["is_bot"]:
            props["from_bot"] = "true"
        created = max(now_ms(), max((p["create_at"] for p in self.posts.values()), default=0) + 1)
        post: dict[str, Any] = {
            "id": new_id(),
            "create_at": created,
            "update_at": created,
            "edit_at": 0,
            "delete_at": 0,
            "is_pinned": False,
            "user_id": user_id,
            "channel_id": channel_id,
            "root_id": root_id,
            "original_id": "",
            "message": message,
            "type": "",
            "props": props,
            "hashtags": "",
            "pending_post_id": "",
            "reply_count": 0,
            "metadata": {},
        }
        self.posts[post["id"]] = post
        channel = self.channels[channel_id]
        channel["last_post_at"] = created
        if not root_id:
            channel["last_root_post_at"] = created
        channel["total_msg_count"] += 1
        if root_id:
            self.posts[root_id]["reply_count"] += 1
        return post, None

    @staticmethod
    def for_clients(post: dict[str, Any]) -> dict[str, Any]:
        """The server strips integration URLs and contexts from posts it sends to clients."""
        out = copy.deepcopy(post)
        for att in out.get("props", {}).get("attachments", ()) or ():
            for action in att.get("actions", ()) or ():
                action.pop("integration", None)
        return out

    async def _create_post(self, request: web.Request) -> web.Response:
        body = request[BODY]
        if not isinstance(body, dict) or not body.get("channel_id"):
            return error(
                400,
                "api.context.invalid_body_param.app_error",
                "Invalid or missing post in request body.",
            )
        pending = str(body.get("pending_post_id") or "")
        seen = self.pending.get(pending) if pending else None
        if seen is not None and time.monotonic() - seen[1] < PENDING_TTL:
            return reply(self.for_clients({**self.posts[seen[0]], "pending_post_id": ""}), 201)
        too_long = self._too_long(body.get("message"))
        if too_long is not None:
            return too_long
        post, problem = self._new_post(
            request[USER],
            body["channel_id"],
            body.get("message", ""),
            body.get("root_id") or "",
            body.get("props") or {},
        )
        if problem == "api.post.create_post.root_id.app_error":
            return error(400, problem, "Invalid RootId parameter.")
        if problem is not None:
            return error(403, problem, "You do not have the appropriate permissions.")
        if pending:
            post["pending_post_id"] = pending
            self.pending[pending] = (post["id"], time.monotonic())
        await self._broadcast_posted(post)
        return reply(self.for_clients(post), 201)

    async def _get_post(self, request: web.Request) -> web.Response:
        post = self.posts.get(request.match_info["post_id"])
        if post is None or post["delete_at"]:
            return error(404, "app.post.get.app_error", "Unable to get the post.")
        return reply(self.for_clients(post))

    async def _own_post(self, request: web.Request) -> dict[str, Any] | web.Response:
        post = self.posts.get(request.match_info["post_id"])
        if post is None or post["delete_at"]:
            return error(404, "app.post.get.app_error", "Unable to get the post.")
        if post["user_id"] != request[USER]:  # editing others' posts needs an admin
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        return post

    async def _put_post(self, request: web.Request) -> web.Response:
        """The whole-post update: fields left out are blanked (the trap the adapter avoids)."""
        post = await self._own_post(request)
        if isinstance(post, web.Response):
            return post
        body = request[BODY] or {}
        post["message"] = body.get("message", "")
        post["props"] = body.get("props", {})
        post["edit_at"] = post["update_at"] = now_ms()
        await self._broadcast_edited(post)
        return reply(self.for_clients(post))

    async def _patch_post(self, request: web.Request) -> web.Response:
        post = await self._own_post(request)
        if isinstance(post, web.Response):
            return post
        body = request[BODY] or {}
        too_long = self._too_long(body.get("message"))
        if too_long is not None:
            return too_long
        for key in ("message", "props", "is_pinned", "file_ids", "has_reactions"):
            if key in body:
                post[key] = body[key]
        if self.users[post["user_id"]]["is_bot"]:
            post["props"]["from_bot"] = "true"
        post["edit_at"] = post["update_at"] = now_ms()
        await self._broadcast_edited(post)
        return reply(self.for_clients(post))

    async def _delete_post(self, request: web.Request) -> web.Response:
        post = await self._own_post(request)
        if isinstance(post, web.Response):
            return post
        post["delete_at"] = post["update_at"] = now_ms()
        await self._broadcast(
            post["channel_id"],
            "post_deleted",
            lambda _s: {"post": json.dumps(self.for_clients(post))},
        )
        return reply({"status": "OK"})

    async def _channel_posts(self, request: web.Request) -> web.Response:
        cid = request.match_info["channel_id"]
        if cid not in self.channels or request[USER] not in self.members[cid]:
            return error(
                403,
                "api.context.permissions.app_error",
                "You do not have the appropriate permissions.",
            )
        since = int(request.query.get("since", "0") or 0)
        per_page = int(request.query.get("per_page", "60") or 60)
        chosen = [
            p
            for p in self.posts.values()
            if p["channel_id"] == cid
            and (not since or p["update_at"] >= since)
            and (since or not p["delete_at"])
        ]
        chosen.sort(key=lambda p: p["create_at"], reverse=True)
        chosen = chosen[:per_page]
        return reply(
            {
                "order": [p["id"] for p in chosen],
                "posts": {p["id"]: self.for_clients(p) for p in chosen},
                "next_post_id": "",
                "prev_post_id": "",
                "has_next": False,
            }
        )

    # -- websocket -----------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if not self.accepting_websockets:
            return error(503, "peer.unavailable", "websocket temporarily unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.ws_connections += 1
        sock: Socket | None = None
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                continue
            try:
                data = json.loads(msg.data)
            except ValueError:
                continue
            if data.get("action") == "authentication_challenge" and sock is None:
                user_id = self.tokens.get((data.get("data") or {}).get("token", ""))
                if user_id is None:
                    await ws.send_json(
                        {
                            "status": "FAIL",
                            "seq_reply": data.get("seq"),
                            "error": {
                                "id": "api.web_socket_router.not_authenticated.app_error",
                                "message": "authentication failed",
                            },
                        }
                    )
                    await ws.close()
                    break
                await ws.send_json({"status": "OK", "seq_reply": data.get("seq")})
                await ws.send_json(
                    {
                        "event": "hello",
                        "data": {"server_version": "10.5.0"},
                        "broadcast": {
                            "omit_users": None,
                            "user_id": user_id,
                            "channel_id": "",
                            "team_id": "",
                        },
                        "seq": 0,
                    }
                )
                sock = Socket(ws, user_id, request)
                self.sockets.append(sock)
                await self._notify()
        if sock in self.sockets:
            self.sockets.remove(sock)
        return ws

    async def _broadcast(
        self, channel_id: str, event: str, data_for: Callable[[Socket], dict[str, Any]]
    ) -> None:
        members = self.members.get(channel_id, set())
        for sock in list(self.sockets):
            if sock.user_id not in members or sock.ws.closed:
                continue
            with_seq = {
                "event": event,
                "data": data_for(sock),
                "broadcast": {
                    "omit_users": None,
                    "user_id": "",
                    "channel_id": channel_id,
                    "team_id": "",
                },
                "seq": sock.next_seq(),
            }
            with contextlib.suppress(ConnectionError, RuntimeError):
                await sock.ws.send_str(json.dumps(with_seq))
        await self._notify()

    async def _broadcast_posted(self, post: dict[str, Any]) -> None:
        channel = self.channels[post["channel_id"]]
        author = self.users[post["user_id"]]

        def data_for(sock: Socket) -> dict[str, Any]:
            data: dict[str, Any] = {
                "channel_display_name": channel["display_name"] or f"@{author['username']}",
                "channel_name": channel["name"],
                "channel_type": channel["type"],
                "post": json.dumps(self.for_clients(post)),
                "sender_name": f"@{author['username']}",
                "set_online": True,
                "team_id": channel["team_id"],
            }
            name = self.users[sock.user_id]["username"]
            mentioned = re.search(
                rf"(?<![\w@.-])@{re.escape(name)}(?![\w-]|\.[\w-])", post["message"], re.IGNORECASE
            )
            if sock.user_id != post["user_id"] and (mentioned or channel["type"] == "D"):
                data["mentions"] = json.dumps([sock.user_id])
            return data

        await self._broadcast(post["channel_id"], "posted", data_for)

    async def _broadcast_edited(self, post: dict[str, Any]) -> None:
        await self._broadcast(
            post["channel_id"],
            "post_edited",
            lambda _s: {"post": json.dumps(self.for_clients(post))},
        )


# -- building a bot against the peer (shared by the Mattermost adapter tests) ---------------------
def write_skill_package(root: Any, name: str, source: str) -> str:
    """A one-module skill package ``name`` under ``root`` (a Path already on sys.path)."""
    package = root / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mmtest.py").write_text(source)
    return name


def bot_settings(
    peer: MattermostPeer, database_url: str, packages: list[str], **mattermost: Any
) -> dict[str, Any]:
    """Raw settings for ``Settings.model_validate``: HTTP on a free port, fast reconnects."""
    return {
        "adapters": {
            "shell": {"enabled": False},
            "mattermost": {
                "enabled": True,
                "url": peer.url,
                "token": peer.token,
                "reconnect_base_seconds": 0.05,
                "reconnect_max_seconds": 0.2,
                "min_post_interval": 0,
                "connect_timeout": 5,
                **mattermost,
            },
        },
        "database": {"url": database_url},
        "http": {"enabled": True, "port": 0},
        "rate_limit": {"enabled": False},
        "skills": {"packages": packages},
    }
