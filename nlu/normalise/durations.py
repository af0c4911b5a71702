"""Durations ("2 weeks", "36h", "another month", "1d12h") to ISO 8601 strings ("P14D", "PT36H").

Weeks become days (P14D) because that is what people mean when they extend a loan by two weeks
and what ``isodate``-style consumers expect; months and years stay calendar units.
"""

from __future__ import annotations

import re
from fractions import Fraction

from nlu.normalise.counts import parse_count

UNIT_ALIASES = {
    "s": "S",
    "sec": "S",
    "secs": "S",
    "second": "S",
    "seconds": "S",
    "m": "MIN",
    "min": "MIN",
    "mins": "MIN",
    "minute": "MIN",
    "minutes": "MIN",
    "h": "H",
    "hr": "H",
    "hrs": "H",
    "hour": "H",
    "hours": "H",
    "hs": "H",
    "d": "D",
    "day": "D",
    "days": "D",
    "dy": "D",
    "dys": "D",
    "w": "W",
    "wk": "W",
    "wks": "W",
    "week": "W",
    "weeks": "W",
    "weeek": "W",
    "weks": "W",
    "mo": "MO",
    "mos": "MO",
    "mth": "MO",
    "mths": "MO",
    "month": "MO",
    "months": "MO",
    "mon": "MO",
    "monhts": "MO",
    "moths": "MO",
    "y": "Y",
    "yr": "Y",
    "yrs": "Y",
    "year": "Y",
    "years": "Y",
    "fortnight": "FN",
    "fortnights": "FN",
}
_ISO = re.compile(
    r"^P(?=\d|T\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$",
    re.IGNORECASE,
)
_COMPACT = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)", re.IGNORECASE)
_PART = re.compile(r"(\d+(?:\.\d+)?|[a-z]+(?:[\s-]+[a-z]+)*?)?\s*-?\s*\b([a-z]+)\b", re.IGNORECASE)
_SKIP = frozenset(
    {
        "for",
        "another",
        "more",
        "extra",
        "additional",
        "and",
        "further",
        "other",
        "of",
        "by",
        "plus",
        "the",
        "next",
        "about",
        "around",
        "approx",
        "roughly",
        "ish",
        "or",
        "so",
        "just",
        "only",
        "x",
    }
)
_FRACTIONS = {"half": Fraction(1, 2), "quarter": Fraction(1, 4)}
_SECONDS = {"S": 1, "MIN": 60, "H": 3600}


def _amount(words: list[str]) -> Fraction | None:
    """The quantity in front of a unit: "2", "two", "a", "another", "half a", "1.5"."""
    words = [w for w in words if w not in ("more", "extra", "additional", "further", "of")]
    if not words:
        return Fraction(1)
    if words[0] in ("another", "one", "a", "an") and len(words) == 1:
        return Fraction(1)
    if words[0] in _FRACTIONS:
        rest = [w for w in words[1:] if w not in ("a", "an")]
        return _FRACTIONS[words[0]] * (_amount(rest) or 1) if not rest else None
    if words[0] in ("another", "a", "an") and len(words) > 1:
        words = words[1:]
    joined = " ".join(words)
    try:
        return Fraction(joined)
    except ValueError:
        count = parse_count(joined)
        return Fraction(count) if count is not None else None


def _tokens(text: str) -> list[str]:
    spaced = re.sub(r"(\d)([a-z])", r"\1 \2", text.lower())
    spaced = re.sub(r"([a-z])(\d)", r"\1 \2", spaced)
    return [t for t in re.split(r"[\s,+&-]+", spaced) if t]


def _format(years: int, months: int, days: Fraction, seconds: Fraction) -> str | None:
    whole_days = int(days)
    seconds += (days - whole_days) * 86400
    secs = round(seconds)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    date = "".join(f"{n}{u}" for n, u in ((years, "Y"), (months, "M"), (whole_days, "D")) if n)
    time = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (secs, "S")) if n)
    if not date and not time:
        return None
    return "P" + date + ("T" + time if time else "")


def parse_duration(text: str) -> str | None:
    """ISO 8601 duration for a phrase such as "2 weeks", "36 hrs", "1.5 days", "another month"."""
    text = text.strip()
    iso = _ISO.match(text)
    if iso:
        y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in iso.groups())
        return _format(y, mo, Fraction(d + 7 * w), Fraction(h * 3600 + mi * 60 + s))
    tokens = _tokens(text)
    years = months = 0
    days = seconds = Fraction(0)
    pending: list[str] = []
    found = False
    for tok in tokens:
        unit = UNIT_ALIASES.get(tok)
        if unit is None:
            if tok in _SKIP and not pending and tok not in ("another", "a"):
                continue
            pending.append(tok)
            if len(pending) > 4:
                return None
            continue
        amount = _amount(pending)
        pending = []
        if amount is None:
            return None
        found = True
        if unit in _SECONDS:
            seconds += amount * _SECONDS[unit]
        elif unit == "D":
            days += amount
        elif unit == "W":
            days += amount * 7
        elif unit == "FN":
            days += amount * 14
        elif unit == "MO":
            whole = int(amount)
            months += whole
            days += (amount - whole) * 30
        elif unit == "Y":
            whole = int(amount)
            years += whole
            frac_months = (amount - whole) * 12
            months += int(frac_months)
            days += (frac_months - int(frac_months)) * 30
    if not found or any(t not in _SKIP for t in pending):
        return None
    return _format(years, months, days, seconds)
