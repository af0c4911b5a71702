"""A request's posted copies, changed in the background after the turn that changed the request.

Jobs for one request share its ref as background key, so they run in the order they were
submitted; each reads the request as stored when it runs, so the newest state is what shows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.events import PostedRef
from bot.storage.models import PostedCopy, Request

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
        await wf.refresh(fresh, strict=True)

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
