"""A request's posted copies: rendered, posted, remembered, and changed after the turn that
changed the request.

Posting, updating and deleting copies are outbox rows (``bot.deliveries``) written with the
change: rows of one request share its ref as key, so they are sent in the order they were
written; each reads the request as stored when it is sent, so the newest state is what shows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.events import PostedRef
from bot.storage.models import PostedCopy, Request, RequestEvent, User
from bot.workflow import render as cards

if TYPE_CHECKING:
    from bot.workflow.engine import Workflows

log = logging.getLogger(__name__)


class CopiesNotUpdated(Exception):
    """Some posted copies could not be changed; background work tries again."""


#: the outbox kinds of this module (bot/deliveries.py)
PUBLISH = "copies.publish"
REFRESH = "copies.refresh"
DELETE = "copies.delete"


def register(wf: Workflows) -> None:
    """Say how this module's outbox rows are sent (at the workflow service's start)."""

    async def publish_row(payload: dict[str, Any]) -> None:
        req = await _stored(payload)
        if req is not None:
            await publish(wf, req, once=True)

    async def refresh_row(payload: dict[str, Any]) -> None:
        req = await _stored(payload)
        if req is not None:
            await refresh(wf, req, strict=True)

    async def delete_row(payload: dict[str, Any]) -> None:
        await _delete_copies(wf, int(payload["request"]), str(payload.get("ref", "")))

    wf.app.deliveries.register(PUBLISH, publish_row)
    wf.app.deliveries.register(REFRESH, refresh_row)
    wf.app.deliveries.register(DELETE, delete_row)


def _card_key(req: Request) -> str:
    """The posting's own outbox key: it renders the request as stored when it is sent, so it
    needs no place in the request's order, and a channel that refuses it holds up no DM."""
    return f"{req.ref}:card"


async def publish_after(wf: Workflows, req: Request) -> int:
    """Post the card once the filing commits (an outbox row; returns its id)."""
    return await wf.app.deliveries.add(PUBLISH, {"request": req.id}, key=_card_key(req))


async def post_now(wf: Workflows, req: Request) -> bool:
    """Send a just-filed request's card now, so the filer's answer can say where it is; False
    when it is not posted yet (the outbox goes on trying)."""
    from bot.storage.models import Delivery

    row = await Delivery.filter(kind=PUBLISH, key=_card_key(req), state="pending").first()
    if row is not None and await wf.app.deliveries.deliver_now(int(row.id)):
        return True
    spec = wf.spec_of(req)
    return await PostedCopy.filter(request_id=req.id, channel=spec.channel).exists()


async def refresh_after(wf: Workflows, req: Request) -> None:
    """Update every posted copy once the change commits (an outbox row, retried if one fails;
    the copy shows the request as stored when it is sent, so a repeat is harmless)."""
    await wf.app.deliveries.add(REFRESH, {"request": req.id}, key=req.ref)


async def delete_after(wf: Workflows, req: Request) -> None:
    """Remove every posted copy of a deleted request once the deletion commits."""
    await wf.app.deliveries.add(DELETE, {"request": req.id, "ref": req.ref}, key=req.ref)


async def _stored(payload: dict[str, Any]) -> Request | None:
    fresh = await Request.get_or_none(id=int(payload["request"]))
    if fresh is None or fresh.deleted:
        return None
    await fresh.fetch_related("requester")
    return fresh


async def _delete_copies(wf: Workflows, request_id: int, ref: str) -> None:
    failed = 0
    for copy in await PostedCopy.filter(request_id=request_id):
        adapter = wf.app.adapters.get(copy.platform)
        if adapter is None:
            continue
        try:
            where = PostedRef(copy.platform, copy.channel, copy.message_id, copy.thread)
            await adapter.delete(where)
        except Exception:
            log.warning("could not delete copy %s of %s", copy.message_id, ref, exc_info=True)
            failed += 1
            continue
        await copy.delete()
    if failed:
        raise CopiesNotUpdated(f"{failed} posted copies of {ref} were not deleted")


async def render(
    wf: Workflows, req: Request, *, requester_copy: bool = False
) -> tuple[str, list[Any]]:
    """The card's text and buttons as they should look now (the requester's copy offers
    only the requester's moves)."""
    spec = wf.spec_of(req)
    requester = req.requester
    if not isinstance(requester, User):
        await req.fetch_related("requester")
        requester = req.requester
    tagged = [wf.mention(k) for k in wf.responsible(req, spec)]
    last_event = (  # the last thing a person did (the bot's reminders and hooks aren't news)
        await RequestEvent.filter(request_id=req.id)
        .exclude(action__startswith="hook:")
        .exclude(action="reminded")
        .order_by("-id")
        .first()
    )
    last = None
    if last_event is not None and last_event.action != "submitted":
        await last_event.fetch_related("actor")
        who = last_event.actor.name if last_event.actor else "the bot"
        tr = spec.transitions.get(last_event.action)
        verb = tr.past if tr else last_event.action
        last = f"{verb} by {who}" + (f": {last_event.comment}" if last_event.comment else "")
    text = cards.card(
        req,
        spec,
        requester=wf.mention(requester.key),
        tagged=tagged,
        last=last,
        assignee=wf.mention(req.assignee) if req.assignee else None,
    )
    return text, cards.transition_choices(req, spec, requester_only=requester_copy)


async def publish(wf: Workflows, req: Request, *, once: bool = False) -> PostedRef | None:
    """Post the card to the type's channel (on the requester's platform) and remember it.

    ``once``: not again if a copy is already there (the outbox sends at least once); a
    failure then raises, so the outbox tries again."""
    spec = wf.spec_of(req)
    requester = req.requester
    assert isinstance(requester, User)
    if once and await PostedCopy.filter(request_id=req.id, channel=spec.channel).exists():
        return None
    text, choices = await render(wf, req)
    try:
        ref = await wf.app.post(requester.platform, spec.channel, text, choices=choices)
    except Exception:
        if once:
            raise
        log.warning("could not post %s to %s", req.ref, spec.channel, exc_info=True)
        return None
    if ref is not None:
        await remember(req, ref)
    return ref


async def remember(req: Request, ref: PostedRef) -> None:
    """Keep where a copy was posted, so every later change reaches it."""
    await PostedCopy.create(
        request=req,
        platform=ref.platform,
        channel=ref.channel,
        message_id=ref.id,
        thread=ref.thread,
    )


async def refresh(wf: Workflows, req: Request, *, strict: bool = False) -> int:
    """Update every posted copy; returns how many were updated. With ``strict`` a copy
    that could not be updated raises afterwards (so background work tries again)."""
    spec = wf.spec_of(req)
    count = 0
    failed = 0
    for copy in await PostedCopy.filter(request_id=req.id):
        adapter = wf.app.adapters.get(copy.platform)
        if adapter is None:
            continue
        requester_copy = copy.channel != spec.channel
        text, choices = await render(wf, req, requester_copy=requester_copy)
        ref = PostedRef(copy.platform, copy.channel, copy.message_id, copy.thread)
        try:
            await adapter.update(ref, wf.app.outbound(text), choices=choices)
            count += 1
        except Exception:
            log.warning("could not update copy %s of %s", copy.message_id, req.ref, exc_info=True)
            failed += 1
    if strict and failed:
        raise CopiesNotUpdated(f"{failed} copies of {req.ref} were not updated")
    return count
