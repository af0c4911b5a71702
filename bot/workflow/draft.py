"""A request being filled in: a frozen value, turned into JSON only where the conversation store
keeps it (``to_dict``/``from_dict``), in the same shape as before so saved drafts still load.

Each change returns a new draft (``with_field``, ``asking_for``, ``confirming``), so a half-done
step can never leave a stored draft half-changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Stage = Literal["ask", "confirm"]


@dataclass(frozen=True, slots=True)
class Requester:
    """Whom a request is filed for, when someone (helpdesk) files it on their behalf."""

    platform: str
    id: str
    name: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"platform": self.platform, "id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Requester:
        return cls(str(raw["platform"]), str(raw["id"]), str(raw.get("name") or ""))


@dataclass(frozen=True, slots=True)
class Draft:
    """The request type, the answers so far, the field being asked and the stage.

    ``key`` makes filing idempotent (the request remembers it: a second "yes" files nothing
    new); ``filed`` is the ref it was filed as, set in the filing's own transaction, so a "yes"
    repeated after a crash is answered with it."""

    type: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    asking: str | None = None
    stage: Stage = "ask"
    requester: Requester | None = None
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    filed: str | None = None

    def with_field(self, name: str, value: Any) -> Draft:
        return replace(self, fields={**self.fields, name: value})

    def only(self, names: Iterable[str]) -> Draft:
        """Without answers to fields the request type no longer has (it was edited)."""
        keep = set(names)
        return replace(self, fields={k: v for k, v in self.fields.items() if k in keep})

    def asking_for(self, name: str) -> Draft:
        return replace(self, asking=name, stage="ask")

    def confirming(self) -> Draft:
        return replace(self, asking=None, stage="confirm")

    def filed_as(self, ref: str) -> Draft:
        return replace(self, filed=ref)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "fields": dict(self.fields),
            "asking": self.asking,
            "stage": self.stage,
            "requester": self.requester.to_dict() if self.requester else None,
            "key": self.key,
            **({"filed": self.filed} if self.filed else {}),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Draft:
        """Read a stored draft; missing parts get their defaults (an empty ``type`` is a draft
        whose request type is unknown, which the dialogue drops politely)."""
        requester = raw.get("requester")
        stage: Stage = "confirm" if raw.get("stage") == "confirm" else "ask"
        key, filed = raw.get("key"), raw.get("filed")
        return cls(
            type=str(raw.get("type") or ""),
            fields=dict(raw.get("fields") or {}),
            asking=raw.get("asking") if isinstance(raw.get("asking"), str) else None,
            stage=stage,
            requester=Requester.from_dict(requester) if isinstance(requester, Mapping) else None,
            # a draft saved before keys existed gets one now (kept from its next save on)
            key=str(key)[:64] if isinstance(key, str) and key else uuid.uuid4().hex,
            filed=str(filed)[:40] if isinstance(filed, str) and filed else None,
        )
