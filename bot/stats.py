"""Cheap counters on the message path; turned into Prometheus metrics only when scraped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    received: dict[str, int] = field(default_factory=dict)   # per platform
    handled: int = 0
    ignored: int = 0
    errors: int = 0
    denied: int = 0
    rate_limited: int = 0
    interactions: int = 0
    reloads: int = 0
    nlu_parses: int = 0
    nlu_unavailable: int = 0
