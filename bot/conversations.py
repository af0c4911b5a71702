"""Per-user, per-conversation dialogue state: in memory for speed, written through to the database.

Only conversations with something pending are stored, so the common message (a command that
changes nothing) never touches the database.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any


class ConversationStore:
    def __init__(self, timeout: timedelta) -> None:
        self.timeout = timeout
        self._states: dict[str, tuple[dict[str, Any], datetime | None]] = {}

    async def load(self) -> None:
        from bot.storage.models import Conversation

        now = datetime.now(UTC)
        self._states.clear()
        for row in await Conversation.all():
            if row.expires_at is not None and row.expires_at <= now:
                continue
            self._states[row.key] = (dict(row.state), row.expires_at)

    def _lookup(self, key: str) -> tuple[dict[str, Any], bool] | None:
        """(state, has it expired) for a stored conversation, or None."""
        entry = self._states.get(key)
        if entry is None:
            return None
        state, expires = entry
        return state, expires is not None and expires <= datetime.now(UTC)

    def peek(self, key: str) -> dict[str, Any] | None:
        """The live state of a conversation, or None (also when it has expired)."""
        found = self._lookup(key)
        return found[0] if found is not None and not found[1] else None

    def expired(self, key: str) -> dict[str, Any] | None:
        """The state of a conversation that timed out (so the bot can say so), else None."""
        found = self._lookup(key)
        return found[0] if found is not None and found[1] else None

    def expired_keys(self) -> list[str]:
        now = datetime.now(UTC)
        return [k for k, (_, exp) in self._states.items() if exp is not None and exp <= now]

    async def save(self, key: str, state: dict[str, Any], *, expires: bool = True) -> None:
        from bot.storage.models import Conversation

        expires_at = datetime.now(UTC) + self.timeout if expires else None
        await Conversation.update_or_create(key=key,
                                            defaults={"state": state, "expires_at": expires_at})
        self._states[key] = (state, expires_at)

    async def clear(self, key: str) -> None:
        from bot.storage.models import Conversation

        if self._states.pop(key, None) is not None:
            await Conversation.filter(key=key).delete()
