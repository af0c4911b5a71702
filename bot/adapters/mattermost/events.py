"""Reading Mattermost posts: JSON-in-JSON event fields, mentions, threads, who wrote it.

Pure functions, so the trap-prone parts (``data.post`` and ``data.mentions`` are JSON *strings*;
a reply's thread is its ``root_id``; bot and system posts) are easy to read and test.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any


def decode(value: Any, default: Any = None) -> Any:
    """``posted`` events carry ``post`` and ``mentions`` as JSON strings: decode them again."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return default
    return default if value is None else value


def mention_pattern(username: str) -> re.Pattern[str]:
    """``@name`` as a whole username: not ``@name.other``, ``@name-x`` or ``x@name``."""
    return re.compile(
        rf"(?<![\w@.-])@{re.escape(username)}(?![\w-]|\.[\w-])[:,]?\s*", re.IGNORECASE
    )


def strip_mention(pattern: re.Pattern[str], text: str) -> str:
    return re.sub(r"\s{2,}", " ", pattern.sub(" ", text)).strip()


def thread_of(post: dict[str, Any], direct: bool) -> str | None:
    """The thread a post belongs to (its root), or the thread it starts in a channel.

    ``root_id`` must name the thread's root post; answering a reply with the reply's own id is
    a 400 (``api.post.create_post.root_id.app_error``). A channel post that is not a reply
    starts a thread, so its own id is the root; DMs stay flat unless already threaded.
    """
    root = post.get("root_id") or None
    if root or direct:
        return root
    return str(post.get("id") or "") or None


def is_from_integration(post: dict[str, Any]) -> bool:
    """Posts by bot accounts and webhooks carry these props (as strings, sometimes as bools)."""
    props = post.get("props") or {}
    return any(props.get(k) in ("true", True) for k in ("from_bot", "from_webhook"))


def is_system(post: dict[str, Any]) -> bool:
    """Join/leave and other system posts have a non-empty ``type``."""
    return bool(post.get("type"))


def post_time(post: dict[str, Any]) -> datetime:
    millis = post.get("create_at") or 0
    return datetime.fromtimestamp(millis / 1000, UTC) if millis else datetime.now(UTC)


def display_name(user: dict[str, Any]) -> str:
    full = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p).strip()
    return full or user.get("nickname") or user.get("username") or str(user.get("id", "?"))
