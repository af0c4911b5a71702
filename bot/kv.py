"""Small namespaced values with expiry, in the database: plumbing state that is not dialogue.

Message-part indexes, catch-up cursors and shell choices once lived in the conversation store,
which loads every key at start, never expires them and broadcasts each change to every process.
Here a value is read when it is needed, shared by every process through the database, and gone
after its TTL: an expired value reads as absent, and a periodic sweep deletes the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.periodic import Periodic
from bot.storage.db import answering

log = logging.getLogger(__name__)

NAMESPACE_LIMIT = 64  # column sizes of ``qm_kv``
KEY_LIMIT = 300
SWEEP_SECONDS = 900.0


def _utcnow() -> datetime:
    return datetime.now(UTC)


class KeyValueStore:
    """``get``/``set``/``delete`` of JSON values under ``(namespace, key)``; see the module doc."""

    def __init__(self, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.clock = clock
        self._sweeper = Periodic(self.sweep, SWEEP_SECONDS, name="kv-sweep")

    def namespace(self, namespace: str, *, ttl: timedelta | None = None) -> Namespace:
        """A view bound to one namespace (and a default TTL for its ``set``)."""
        return Namespace(self, namespace, ttl)

    async def get(self, namespace: str, key: str, default: Any = None) -> Any:
        from bot.storage.models import KeyValue

        async with answering("the key-value store"):
            row = await KeyValue.get_or_none(namespace=_ns(namespace), key=_key(key))
        if row is None or (row.expires_at is not None and row.expires_at <= self.clock()):
            return default
        return row.value.get("v", default) if isinstance(row.value, dict) else default

    async def set(self, namespace: str, key: str, value: Any, ttl: timedelta | None = None) -> None:
        """Store ``value`` (anything JSON can hold); with ``ttl`` it reads as absent after it."""
        expires = self.clock() + ttl if ttl is not None else None
        ns, key = _ns(namespace), _key(key)
        value = {"v": value}  # wrapped: tortoise would take a bare str for encoded JSON
        async with answering("the key-value store"):
            await self._write(ns, key, value, expires)

    async def _write(self, ns: str, key: str, value: Any, expires: datetime | None) -> None:
        from tortoise.exceptions import IntegrityError

        from bot.storage.models import KeyValue

        for _ in range(2):  # a concurrent first write of the same key: update it instead
            updated = await KeyValue.filter(namespace=ns, key=key).update(
                value=value, expires_at=expires, updated_at=self.clock()
            )
            if updated:
                return
            try:
                await KeyValue.create(namespace=ns, key=key, value=value, expires_at=expires)
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"kv: could not write {ns}/{key}")  # pragma: no cover

    async def delete(self, namespace: str, key: str) -> None:
        from bot.storage.models import KeyValue

        async with answering("the key-value store"):
            await KeyValue.filter(namespace=_ns(namespace), key=_key(key)).delete()

    async def sweep(self) -> int:
        """Delete expired rows (reads already ignore them; this keeps the table small)."""
        from bot.storage.models import KeyValue

        async with answering("the key-value store"):
            return await KeyValue.filter(expires_at__lte=self.clock()).delete()

    async def start(self) -> None:
        """Sweep now, then every ``SWEEP_SECONDS`` until ``stop``."""
        await self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()


class Namespace:
    """``app.kv.namespace("mattermost.cursors")``: the store's calls without the namespace."""

    def __init__(self, store: KeyValueStore, name: str, ttl: timedelta | None) -> None:
        self.store = store
        self.name = _ns(name)
        self.ttl = ttl

    async def get(self, key: str, default: Any = None) -> Any:
        return await self.store.get(self.name, key, default)

    async def set(self, key: str, value: Any, ttl: timedelta | None = None) -> None:
        await self.store.set(self.name, key, value, ttl if ttl is not None else self.ttl)

    async def delete(self, key: str) -> None:
        await self.store.delete(self.name, key)


def _ns(namespace: str) -> str:
    if not namespace or len(namespace) > NAMESPACE_LIMIT:
        raise ValueError(f"kv namespace must be 1-{NAMESPACE_LIMIT} characters: {namespace!r}")
    return namespace


def _key(key: str) -> str:
    if not key or len(key) > KEY_LIMIT:
        raise ValueError(f"kv key must be 1-{KEY_LIMIT} characters")
    return key
