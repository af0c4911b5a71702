"""Where catch-up starts: per channel, the ``create_at`` of the last post the bot has seen.

After a dropped websocket the adapter asks each channel for posts since its cursor. The cursors
are saved in the key-value store (namespace ``mattermost.cursors``, one key per bot account)
every few seconds and at stop, so posts made while the *process* was down are caught up on the
first connect after a restart — if that stop was recent (``restart_catchup_minutes``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from bot.kv import Namespace

log = logging.getLogger(__name__)
NAMESPACE = "mattermost.cursors"


class Cursors:
    def __init__(self, store: Namespace, *, max_age_minutes: float) -> None:
        self.store = store
        self.max_age_minutes = max_age_minutes
        #: kept a while longer than they are useful, so a raised setting still finds them
        self.ttl = timedelta(minutes=max(max_age_minutes, 60.0))
        self.positions: dict[str, int] = {}
        self._saved: dict[str, int] = {}

    def get(self, channel: str) -> int | None:
        return self.positions.get(channel)

    def advance(self, post: dict[str, Any]) -> None:
        channel, created = post.get("channel_id"), int(post.get("create_at") or 0)
        if channel and created > self.positions.get(channel, 0):
            self.positions[channel] = created

    def at_least(self, channel: str, position: int) -> None:
        self.positions[channel] = max(self.positions.get(channel, 0), position)

    async def restore(self, bot_id: str) -> bool:
        """Load the positions saved by the last run of this bot account; True if there were
        some recent enough to catch up from."""
        saved = await self.store.get(bot_id)
        if not isinstance(saved, dict):
            return False
        age = time.time() - float(saved.get("saved_at", 0))
        if age > self.max_age_minutes * 60:
            log.info("mattermost: last stop was %.0f min ago; not catching up that far", age / 60)
            return False
        self.positions.update({str(k): int(v) for k, v in saved.get("cursors", {}).items()})
        self._saved = dict(self.positions)
        return bool(self.positions)

    async def save(self, bot_id: str) -> None:
        if not bot_id or not self.positions or self.positions == self._saved:
            return
        snapshot = dict(self.positions)
        await self.store.set(bot_id, {"saved_at": time.time(), "cursors": snapshot}, self.ttl)
        self._saved = snapshot

    async def keep(self, bot_id: str, every: float) -> None:
        """Save every ``every`` seconds until cancelled; a failure waits for the next round."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.save(bot_id)
            except Exception as exc:
                log.warning("mattermost: could not save catch-up positions: %s", type(exc).__name__)
