"""Whether a signed button click may go to the core: who clicked, on which post, when, how often.

Mattermost POSTs a click to the integration URL with the clicking ``user_id`` in the body and no
signature of its own, so the body alone proves nothing about who clicked. What the platform
does guarantee is asked from the server: the post exists in the channel the context was signed
for, was made by this bot and carries the signed button; the user exists and is a member of
that channel. The signed context carries its issue time (``actions``): an old button is
answered with where to look instead. Each click is used once per user (its nonce is kept in
the key-value store until the button expires), so a captured click cannot be replayed. Whether
the user may do what the button does is decided by the core at click time, as for any event.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
from aiohttp import web
from mattermostautodriver.exceptions import InvalidMattermostError, MattermostError

from bot.adapters.mattermost.actions import Signed
from bot.adapters.mattermost.rest import describe

if TYPE_CHECKING:
    from bot.adapters.mattermost.outbound import MattermostOutbound

log = logging.getLogger(__name__)
NAMESPACE = "mattermost.clicks"
_REF = re.compile(r"\b[A-Z][A-Z0-9]{0,9}-\d{1,9}\b")

NOT_OURS = "This button was not issued by this bot; the click was ignored."
NOT_MEMBER = "Only members of this channel can use its buttons; the click was ignored."
UNCHECKED = "I could not check this click with the Mattermost server; please try again."
USED = "This button was already used; the click was ignored."


def answer(text: str, status: int = 200) -> web.Response:
    """What Mattermost shows the clicking user (``ephemeral_text``; the error on a refusal)."""
    body: dict[str, Any] = {"ephemeral_text": text}
    if status >= 400:
        body["error"] = {"message": text}
    return web.json_response(body, status=status)


def expired_text(message: str) -> str:
    """The answer to an expired button: where the current state can be asked for."""
    ref = _REF.search(message or "")
    if ref is None:
        return "This button has expired; ask me again for the current state."
    return f"This button has expired; say `status of {ref.group(0)}` for the current state."


def _offers(post: dict[str, Any], button: str) -> bool:
    props = post.get("props") or {}
    for att in props.get("attachments") or ():
        for action in (att or {}).get("actions") or ():
            if isinstance(action, dict) and action.get("id") == button:
                return True
    return False


async def refusal(
    adapter: MattermostOutbound, body: dict[str, Any], signed: Signed, expiry: timedelta
) -> web.Response | None:
    """None when the click may go on; otherwise the answer for the clicking user."""
    channel_id, user_id = str(body.get("channel_id") or ""), str(body.get("user_id") or "")
    post_id = str(body.get("post_id") or "")
    if not post_id:
        return _refuse(NOT_OURS, "no post id", user_id, channel_id)
    try:
        post = await _post(adapter, post_id)
        member = await _is_member(adapter, channel_id, user_id)
    except (MattermostError, InvalidMattermostError, httpx.HTTPError) as exc:
        log.warning("mattermost: could not verify a button click: %s", describe(exc))
        return answer(UNCHECKED, 503)
    if not isinstance(post, dict):
        return _refuse(NOT_OURS, "the post does not exist", user_id, channel_id)
    if (
        post.get("channel_id") != channel_id
        or post.get("user_id") != adapter.bot_id
        or post.get("delete_at")
        or (signed.button and not _offers(post, signed.button))
    ):
        return _refuse(NOT_OURS, "the post does not offer this button", user_id, channel_id)
    if not member:
        return _refuse(NOT_MEMBER, "the user is not a member of the channel", user_id, channel_id)
    now = adapter.host.kv.clock()
    if signed.issued is None or now.timestamp() - signed.issued > expiry.total_seconds():
        return answer(expired_text(str(post.get("message") or "")))
    if not await _first_use(adapter, f"{signed.nonce}:{user_id}", expiry):
        return _refuse(USED, "a replayed click", user_id, channel_id, status=200)
    return None


async def _post(adapter: MattermostOutbound, post_id: str) -> dict[str, Any] | None:
    """``GET /posts/{id}``; None when the server says there is no such post (for the bot)."""
    try:
        post: dict[str, Any] = await adapter._read(
            lambda: adapter.driver.posts.get_post(post_id), what="GET /posts/{id}"
        )
    except MattermostError as exc:
        if exc.status_code in (400, 403, 404):
            return None
        raise
    return post


async def _is_member(adapter: MattermostOutbound, channel_id: str, user_id: str) -> bool:
    """``GET /channels/{id}/members/{user}``: 404 for a user who is not in it (or not at all)."""
    if not user_id or not channel_id:
        return False
    try:
        await adapter._read(
            lambda: adapter.driver.channels.get_channel_member(channel_id, user_id),
            what="GET /channels/{id}/members/{user}",
        )
    except MattermostError as exc:
        if exc.status_code in (400, 403, 404):
            return False
        raise
    return True


async def _first_use(adapter: MattermostOutbound, key: str, expiry: timedelta) -> bool:
    """Remember ``key`` until the button expires; False when it was already remembered."""
    store = adapter.host.kv.namespace(NAMESPACE, ttl=expiry)
    async with adapter._click_lock:  # check and set as one step within this process
        if await store.get(key):
            return False
        await store.set(key, True)
    return True


def _refuse(
    text: str, why: str, user_id: str, channel_id: str, *, status: int = 403
) -> web.Response:
    log.warning(
        "mattermost: refused a button click (%s; user %s, channel %s)",
        why,
        user_id or "?",
        channel_id or "?",
    )
    return answer(text, status)
