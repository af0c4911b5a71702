"""Interactive message buttons: the attachment we post and the check of a click's context.

Mattermost sends clicks to the integration URL without any signature, and strips the URL and
the ``context`` from posts sent to clients. So the context carries an HMAC (keyed with the
per-install action secret) over channel, action, value, thread, the button's id, the time it
was issued and a nonce: a click whose context does not verify, or that comes from another
channel, was not offered by this bot. Who clicked, whether the button is still fresh and
whether this click was already used are checked by ``clicks`` (see there).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.events import Choice

_STYLES = {"primary": "primary", "danger": "danger", "default": "default"}


@dataclass(frozen=True)
class Signed:
    """A verified context: what the button does and when and as which button it was issued.

    ``issued`` is None for a button signed before contexts carried a time (always expired)."""

    action: str
    value: str
    thread: str
    button: str = ""
    issued: int | None = None
    nonce: str = ""


def _mac(secret: str, fields: list[Any]) -> str:
    payload = json.dumps(fields, separators=(",", ":"))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def signature(
    secret: str,
    channel: str,
    action: str,
    value: str,
    thread: str,
    button: str | None = None,
    issued: int | None = None,
    nonce: str = "",
) -> str:
    """The HMAC of a context; without ``issued`` the old form (channel, action, value, thread)."""
    if issued is None:
        return _mac(secret, [channel, action, value, thread])
    return _mac(secret, [channel, action, value, thread, button or "", issued, nonce])


def context_for(
    secret: str,
    channel: str,
    choice: Choice,
    thread: str | None,
    *,
    button: str = "",
    issued: int = 0,
) -> dict[str, Any]:
    thread = thread or ""
    nonce = secrets.token_urlsafe(12)
    return {
        "action": choice.action,
        "value": choice.value,
        "thread": thread,
        "button": button,
        "iat": issued,
        "nonce": nonce,
        "sig": signature(
            secret, channel, choice.action, choice.value, thread, button, issued, nonce
        ),
    }


def verify(secret: str, channel: str, context: Any) -> Signed | None:
    """The context if this bot signed it for ``channel``, else None."""
    if not isinstance(context, dict):
        return None
    action, value, thread, sig = (context.get(k) for k in ("action", "value", "thread", "sig"))
    if not (
        isinstance(action, str)
        and isinstance(value, str)
        and isinstance(thread, str)
        and isinstance(sig, str)
    ):
        return None
    if "iat" not in context:  # issued before buttons expired: genuine but stale
        old = signature(secret, channel, action, value, thread)
        return Signed(action, value, thread) if hmac.compare_digest(old, sig) else None
    button, issued, nonce = context.get("button"), context.get("iat"), context.get("nonce")
    if not (
        isinstance(button, str)
        and isinstance(issued, int)
        and not isinstance(issued, bool)
        and isinstance(nonce, str)
        and nonce
    ):
        return None
    expected = signature(secret, channel, action, value, thread, button, issued, nonce)
    if not hmac.compare_digest(expected, sig):
        return None
    return Signed(action, value, thread, button, issued, nonce)


def attachments(
    choices: Sequence[Choice],
    url: str,
    secret: str,
    channel: str,
    thread: str | None,
    *,
    issued: int = 0,
) -> list[dict[str, Any]]:
    """``props.attachments`` with one button per choice; action ids must be alphanumeric."""
    if not choices:
        return []
    actions = [
        {
            "id": f"qm{index}",
            "type": "button",
            "name": choice.label,
            "style": _STYLES.get(choice.style, "default"),
            "integration": {
                "url": url,
                "context": context_for(
                    secret, channel, choice, thread, button=f"qm{index}", issued=issued
                ),
            },
        }
        for index, choice in enumerate(choices)
    ]
    return [{"text": "", "actions": actions}]
