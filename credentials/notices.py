"""Delivering queued vault notices (secrets retired by ``vault recover``) once the bot runs.

The recovery runs at a terminal with no chat platform connected, so it queues one notice per
owner; the running bot claims each row before sending (several processes never send one twice),
DMs the owner (and e-mails them when e-mail is on and their address is known), then deletes it.
A notice whose platform is not connected, or whose DM fails, is released for the next round.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from credentials.models import VaultNotice

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)
SUBJECT = "your stored secrets were retired"


async def deliver_notices(app: Application) -> int:
    """Send what is pending; returns how many notices were delivered."""
    delivered = 0
    for row in await VaultNotice.filter(claimed_at=None).order_by("id"):
        claimed = await VaultNotice.filter(id=row.id, claimed_at=None).update(
            claimed_at=datetime.now(UTC)
        )
        if not claimed:  # another process has it
            continue
        try:
            sent = await app.notify(row.owner, row.text)
        except Exception as exc:  # the platform's own error: try again next round
            log.warning("vault: notice to %s failed: %s", row.owner, type(exc).__name__)
            sent = None
        if sent is None:
            await VaultNotice.filter(id=row.id).update(claimed_at=None)
            continue
        await _email(app, row.owner, row.text)
        await VaultNotice.filter(id=row.id).delete()
        app.audit.record("vault", "vault.notice", row.owner, "ok")
        delivered += 1
    return delivered


async def _email(app: Application, owner: str, text: str) -> None:
    from bot.workflow.notify import Notifier

    notifier = Notifier(app)
    if not notifier.email.enabled:
        return
    user = await app.users.by_key(owner)
    if user is not None and user.email:
        await notifier.send_email(user.email, SUBJECT, text)
