"""VM requests waiting for their owner to store a credential, kept in ``qm_kv`` (so a restart
keeps them) with the owners' keys in memory, so a message of anyone else costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.services import ServiceKey
from bot.storage.models import KeyValue

if TYPE_CHECKING:
    from bot.app import Application

NAMESPACE = "vms.waiting"


class Waiting:
    def __init__(self, keys: set[str]) -> None:
        self.keys = keys

    @classmethod
    async def load(cls) -> Waiting:
        rows = await KeyValue.filter(namespace=NAMESPACE).values_list("key", flat=True)
        return cls({str(k) for k in rows})

    async def add(self, owner_key: str, entry: dict[str, Any]) -> None:
        await KeyValue.update_or_create(
            defaults={"value": entry}, namespace=NAMESPACE, key=owner_key
        )
        self.keys.add(owner_key)

    async def get(self, owner_key: str) -> dict[str, Any] | None:
        row = await KeyValue.get_or_none(namespace=NAMESPACE, key=owner_key)
        return dict(row.value) if row is not None and isinstance(row.value, dict) else None

    async def remove(self, owner_key: str) -> None:
        await KeyValue.filter(namespace=NAMESPACE, key=owner_key).delete()
        self.keys.discard(owner_key)


WAITING: ServiceKey[Waiting] = ServiceKey("vms_waiting")


def waiting(app: Application) -> Waiting:
    found = app.services.get(WAITING)
    if found is None:
        raise RuntimeError("the vms skill is not loaded")
    return found
