"""What a parse returns: frozen, typed values inside the process, Rasa JSON only at the wire.

Both backends build these; ``to_rasa()`` gives the dict of docs/nlu.md (key order included, so
``nlu parse --json`` output is unchanged) for the CLI, ``--jsonl`` and the evaluation, and
``from_rasa()`` reads that shape back, e.g. from a Rasa server's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

FALLBACK = "nlu_fallback"


def _field(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(raw, Mapping):
        raise ValueError(f"expected a mapping with {key!r}, got {raw!r}")
    value = raw.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class IntentScore:
    """One intent and how sure the model is of it (0..1)."""

    name: str
    confidence: float

    def to_rasa(self) -> dict[str, Any]:
        return {"name": self.name, "confidence": self.confidence}

    @classmethod
    def from_rasa(cls, raw: Mapping[str, Any]) -> IntentScore:
        """Raises ``ValueError`` when ``name`` or ``confidence`` is missing or mistyped."""
        return cls(_field(raw, "name", str), float(_field(raw, "confidence", (int, float))))


@dataclass(frozen=True, slots=True)
class Entity:
    """A span of the message (``text[start:end]``) and its normalised value (docs/nlu.md)."""

    entity: str
    start: int
    end: int
    value: Any
    extractor: str

    def to_rasa(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "start": self.start,
            "end": self.end,
            "value": self.value,
            "extractor": self.extractor,
        }

    @classmethod
    def from_rasa(cls, raw: Mapping[str, Any], extractor: str = "rasa") -> Entity:
        """Raises ``ValueError`` for a missing name or span; Rasa's extra keys are ignored."""
        return cls(
            _field(raw, "entity", str),
            _field(raw, "start", int),
            _field(raw, "end", int),
            raw.get("value"),
            str(raw.get("extractor") or extractor),
        )


@dataclass(frozen=True, slots=True)
class ParseResult:
    """One message understood: the intent, the ranking behind it and the entities found."""

    text: str
    intent: IntentScore
    intent_ranking: tuple[IntentScore, ...] = ()
    entities: tuple[Entity, ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self.intent.name == FALLBACK

    def values(self, entity: str) -> list[Any]:
        """The values of every ``entity`` found, in message order."""
        return [e.value for e in self.entities if e.entity == entity]

    def to_rasa(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": self.intent.to_rasa(),
            "intent_ranking": [r.to_rasa() for r in self.intent_ranking],
            "entities": [e.to_rasa() for e in self.entities],
        }

    @classmethod
    def from_rasa(cls, raw: Mapping[str, Any]) -> ParseResult:
        """Read the Rasa JSON shape; ``ValueError`` names the first part that does not fit."""
        intent = raw.get("intent")
        if not isinstance(intent, Mapping):
            raise ValueError(f"intent: expected a mapping, got {intent!r}")
        ranking = raw.get("intent_ranking") or []
        entities = raw.get("entities") or []
        if not isinstance(ranking, list) or not isinstance(entities, list):
            raise ValueError("intent_ranking and entities must be lists")
        return cls(
            _field(raw, "text", str),
            IntentScore.from_rasa(intent),
            tuple(IntentScore.from_rasa(r) for r in ranking),
            tuple(Entity.from_rasa(e) for e in entities),
        )
