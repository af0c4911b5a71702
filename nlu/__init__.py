"""Natural-language understanding for Quartermaster: one chat message → intent + entities.

The bot core uses only what is exported here: :class:`NLUSettings`, :func:`load_parser`, the
:class:`Parser` protocol, :class:`NLUUnavailable` and the frozen result types
(:class:`ParseResult`, :class:`IntentScore`, :class:`Entity`), whose ``to_rasa()`` is the JSON of
``docs/nlu.md`` (Rasa-compatible: ``text``, ``intent``, ``intent_ranking``, ``entities``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from nlu.errors import NLUUnavailable
from nlu.result import FALLBACK, Entity, IntentScore, ParseResult
from nlu.settings import NLUSettings

__all__ = [
    "FALLBACK",
    "Entity",
    "IntentScore",
    "NLUSettings",
    "NLUUnavailable",
    "ParseResult",
    "Parser",
    "load_parser",
]


@runtime_checkable
class Parser(Protocol):
    """What every backend offers (embedded model or Rasa server)."""

    async def parse(self, text: str, now: datetime | None = None) -> ParseResult: ...

    def parse_sync(self, text: str, now: datetime | None = None) -> ParseResult: ...

    async def close(self) -> None: ...


def load_parser(settings: NLUSettings) -> Parser:
    """The configured backend, ready to parse.

    Embedded: loads the cached model from ``settings.model_dir``, retraining first when it is
    missing or stale (training data, configuration or code changed). Rasa: a client for
    ``settings.rasa_url``; nothing is contacted until the first parse.
    """
    if settings.backend == "rasa":
        if not settings.rasa_url:
            raise ValueError("nlu.rasa_url: required when nlu.backend is 'rasa'")
        from nlu.rasa import RasaParser

        return RasaParser(
            settings.rasa_url, settings.rasa_timeout, settings.threshold, settings.clusters
        )
    if settings.backend != "embedded":
        raise ValueError(f"nlu.backend: must be 'embedded' or 'rasa', got {settings.backend!r}")
    from nlu.embedded import EmbeddedParser
    from nlu.model import load_or_train

    model = load_or_train(settings.data_path(), settings.model_path())
    return EmbeddedParser(model, settings.clusters, settings.threshold)
