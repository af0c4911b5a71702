"""A request's posted copies: rendered, posted, remembered, and changed in the background after
the turn that changed the request.

Jobs for one request share its ref as background key, so they run in the order they were
submitted; each reads the request as stored when it runs, so the newest state is what shows.
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


def refresh_later(wf: Workflows, req: Request) -> None:
    """Update every posted copy after the current turn (retried if one fails)."""

    async def job() -> None:
        fresh = await Request.get_or_none(id=req.id)
        if fresh is None or fresh.deleted:
            return
        await fresh.fetch_related("requester")
        await refresh(wf, fresh, strict=True)

    wf.app.background.submit(f"{req.ref}: update posted copies", job, key=req.ref)


def delete_later(wf: Workflows, req: Request) -> None:
    """Remove every posted copy of a deleted request after the current turn."""

    async def job() -> None:
        failed = 0
        for copy in await PostedCopy.filter(request_id=req.id):
            adapter = wf.app.adapters.get(copy.platform)
            if adapter is None:
                continue
            try:
                await adapter.delete(
                    PostedRef(copy.platform, copy.channel, copy.message_id, copy.thread)
                )
            except Exception:
                log.warning(
                    "could not delete copy %s of %s", copy.message_id, req.ref, exc_info=True
                )
                failed += 1
                continue
            await copy.delete()
        if failed:
            raise CopiesNotUpdated(f"{failed} posted copies of {req.ref} were not deleted")

    wf.app.background.submit(f"{req.ref}: delete posted copies", job, key=req.ref)


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


async def publish(wf: Workflows, req: Request) -> PostedRef | None:
    """Post the card to the type's channel (on the requester's platform) and remember it."""
    spec = wf.spec_of(req)
    requester = req.requester
    assert isinstance(requester, User)
    text, choices = await render(wf, req)
    try:
        ref = await wf.app.post(requester.platform, spec.channel, text, choices=choices)
    except Exception:
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
