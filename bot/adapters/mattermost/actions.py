"""Interactive message buttons: the attachment we post and the check of a click's context.

Mattermost sends clicks to the integration URL without any signature, and strips the URL and
the ``context`` from posts sent to clients. So the context carries an HMAC (keyed with the
per-install action secret) over channel, action, value and thread: a click whose context does
not verify, or that comes from another channel, was not offered by this bot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from bot.events import Choice

_STYLES = {"primary": "primary", "danger": "danger", "default": "default"}


def signature(secret: str, channel: str, action: str, value: str, thread: str) -> str:
    payload = json.dumps([channel, action, value, thread], separators=(",", ":"))
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def context_for(secret: str, channel: str, choice: Choice, thread: str | None) -> dict[str, str]:
    thread = thread or ""
    return {
        "action": choice.action,
        "value": choice.value,
        "thread": thread,
        "sig": signature(secret, channel, choice.action, choice.value, thread),
    }


def verify(secret: str, channel: str, context: Any) -> bool:
    """True when ``context`` is one this bot signed for ``channel``."""
    if not isinstance(context, dict):
        return False
    action, value, thread, sig = (context.get(k) for k in ("action", "value", "thread", "sig"))
    if not (
        isinstance(action, str)
        and isinstance(value, str)
        and isinstance(thread, str)
        and isinstance(sig, str)
    ):
        return False
    expected = signature(secret, channel, action, value, thread)
    return hmac.compare_digest(expected, sig)


def attachments(
    choices: Sequence[Choice], url: str, secret: str, channel: str, thread: str | None
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
            "integration": {"url": url, "context": context_for(secret, channel, choice, thread)},
        }
        for index, choice in enumerate(choices)
    ]
    return [{"text": "", "actions": actions}]
