"""Request statistics over a period: counts by type and state, and time to complete.

Time to complete is measured from filing to entering the type's ``completed`` state, for requests
completed within the period; median and p90 use the nearest-rank method (no interpolation, so a
reported p90 is a time some request really took).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.storage.models import Request
from bot.workflow.fields import duration_seconds
from bot.workflow.spec import RequestType

DEFAULT_PERIOD = timedelta(days=30)
MAX_PERIOD = timedelta(days=3653)  # ten years: beyond it a period is a typo, not a question


@dataclass
class Durations:
    count: int
    median: float
    p90: float


@dataclass
class RequestStats:
    since: datetime
    until: datetime
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    completion: dict[str, Durations] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_type(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (type_, _), n in self.counts.items():
            out[type_] += n
        return out


def nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


_WEEKDAYS = frozenset(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
)


def parse_period(text: str | None, now: datetime | None = None) -> timedelta:
    """ "last 7 days", "2 hours", "the past month", "90d", "since monday", "since 2026-11-01" →
    a timedelta back from ``now``; default 30 days."""
    if not text or not text.strip():
        return DEFAULT_PERIOD
    from nlu.normalise import parse_date, parse_duration

    lowered = " ".join(text.lower().split())[:200]  # a period is a few words; never scan more
    since = re.match(r"(?:since|from)\s+(?P<when>.+)", lowered)
    if since:
        now = now or datetime.now(UTC)
        day = parse_date(since.group("when"), now.replace(tzinfo=None))
        if day is None:
            raise ValueError(f"{text[:60]!r} is not a date I understand (try 'since monday')")
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        weekday = since.group("when").strip() in _WEEKDAYS
        if start > now and weekday:  # "since monday" means the last one, not the next
            start -= timedelta(days=7)
        if start > now:
            raise ValueError(f"{text[:60]!r} is in the future")
        return max(now - start, timedelta(hours=1))
    cleaned = re.sub(r"\b(?:the|last|past|previous|over|for|in|during)\b", " ", lowered).strip()
    if cleaned in ("week", "month", "year", "day", "hour"):
        cleaned = f"1 {cleaned}"
    iso = parse_duration(cleaned)
    seconds = duration_seconds(iso) if iso else None
    if not seconds:
        raise ValueError(f"{text[:60]!r} is not a period I understand (try 'last 7 days')")
    if seconds > MAX_PERIOD.total_seconds():
        raise ValueError(f"{text[:60]!r} is longer than ten years, the most I report on")
    return timedelta(seconds=seconds)


def period_label(period: timedelta) -> str:
    """ "the last 7 days", "the last 2 hours": what the report covers, in the unit it was asked."""
    seconds = period.total_seconds()
    if seconds < 2 * 86400:
        hours = max(1, round(seconds / 3600))
        return f"the last {hours} hour{'s' if hours != 1 else ''}"
    days = round(seconds / 86400)
    return f"the last {days} days"


async def compute(
    types: dict[str, RequestType], period: timedelta = DEFAULT_PERIOD, now: datetime | None = None
) -> RequestStats:
    until = now or datetime.now(UTC)
    since = until - period
    out = RequestStats(since, until)
    for type_, state in await Request.filter(
        deleted=False, created_at__gte=since, created_at__lte=until
    ).values_list("type", "state"):
        out.counts[(str(type_), str(state))] += 1
    times: dict[str, list[float]] = {}
    rows = await Request.filter(
        deleted=False, closed_at__gte=since, closed_at__lte=until
    ).values_list("type", "state", "created_at", "closed_at")
    for type_, state, created, closed in rows:
        spec = types.get(str(type_))
        if spec is None or state != spec.completed or created is None or closed is None:
            continue
        times.setdefault(str(type_), []).append((closed - created).total_seconds())
    everything = [t for values in times.values() for t in values]
    for key, values in [*times.items(), ("all", everything)]:
        if values:
            out.completion[key] = Durations(
                len(values), statistics.median(values), nearest_rank(values, 90)
            )
    return out


def human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def report(stats: RequestStats, types: dict[str, RequestType]) -> str:
    lines = [f"Requests filed in {period_label(stats.until - stats.since)}: {stats.total}"]
    for type_, n in sorted(stats.by_type().items()):
        states = ", ".join(f"{s} {c}" for (t, s), c in sorted(stats.counts.items()) if t == type_)
        title = types[type_].title if type_ in types else type_
        lines.append(f"• {title}: {n} ({states})")
    if stats.completion:
        lines.append("Time to complete (median / p90):")
        for key, d in sorted(stats.completion.items(), key=lambda kv: kv[0] == "all"):
            title = "all types" if key == "all" else (types[key].title if key in types else key)
            lines.append(f"• {title}: {human(d.median)} / {human(d.p90)} over {d.count} completed")
    else:
        lines.append("No request was completed in that period.")
    return "\n".join(lines)
