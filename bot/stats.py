"""Cheap counters on the message path; turned into Prometheus metrics only when scraped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Stats:
    received: dict[str, int] = field(default_factory=dict)  # per platform
    handled: int = 0
    ignored: int = 0
    errors: int = 0
    denied: int = 0
    rate_limited: int = 0
    interactions: int = 0
    reloads: int = 0
    nlu_parses: int = 0
    nlu_unavailable: int = 0
    background_submitted: int = 0  # work handed to app.background (copy updates, DMs, mail…)
    background_done: int = 0
    background_retried: int = 0  # failed attempts that were tried again
    background_failed: int = 0  # gave up after the last attempt (logged by name)
    background_lost: int = 0  # still pending when the drain at stop timed out
    outbox_added: int = 0  # durable deliveries written with a change (bot/deliveries.py)
    outbox_done: int = 0
    outbox_retried: int = 0  # failed sends tried again later (with back-off)
    outbox_failed: int = 0  # given up after the last attempt (kept in the table as failed)
    observer_runs: int = 0
    observer_alerts: int = 0
    observer_errors: int = 0
    actions_run: int = 0
    actions_failed: int = 0
