"""Dates ("2027-01-15", "next friday", "end of march") resolved against the message time.

The common chat forms are handled here in microseconds; only what is left goes to ``dateparser``
(imported lazily: it costs ~1-250 ms per call). Dates prefer the future: "march 3" in November
means next March. Numeric dates with slashes are read month-first ("12/01" is December 1) unless
the first number cannot be a month.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from nlu.normalise.counts import parse_count

MONTHS = {
    "jan": 1,
    "january": 1,
    "feb": 2,
    "february": 2,
    "mar": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "may": 5,
    "jun": 6,
    "june": 6,
    "jul": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "oct": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dec": 12,
    "december": 12,
}
WEEKDAYS = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "weds": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2}|\d{4}))?$")
_DAY_MONTH = re.compile(
    rf"^(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?({_MONTH})\.?,?\s*(\d{{4}})?$"
)
_MONTH_DAY = re.compile(rf"^({_MONTH})\.?\s+(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th)?,?\s*(\d{{4}})?$")
_WEEKDAY_RE = re.compile(rf"^(?:(this|next|coming|this coming|on)\s+)?({_WEEKDAY})\.?$")
_EDGE = re.compile(
    rf"^(end|beginning|start|mid|middle)(?:\s*-\s*|\s+)(?:of\s+)?(?:the\s+)?"
    rf"(this\s+|next\s+)?(week|month|year|{_MONTH})\.?$"
)
_IN = re.compile(r"^in\s+(\S+(?:\s+\S+)?)\s+(days?|weeks?|months?)$")
# Date phrases that are dates wherever they appear (used to find spans the tagger missed)
DATE_RE = re.compile(
    rf"\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b"
    rf"|\b(?:next|this|coming)\s+(?:{_WEEKDAY})\b"
    rf"|\b(?:end|beginning|start|mid|middle)\s+of\s+(?:the\s+)?(?:next\s+)?(?:week|month|year|{_MONTH})\b"
    rf"|\b(?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}}\b)?"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b(?:,?\s+\d{{4}}\b)?"
    rf"|(?<=\buntil\s)(?:{_WEEKDAY}|tomorrow|today|tonight)\b"
    rf"|(?<=\btill\s)(?:{_WEEKDAY}|tomorrow|today|tonight)\b",
    re.IGNORECASE,
)
_RELATIVE = {
    "today": 0,
    "tonight": 0,
    "eod": 0,
    "tomorrow": 1,
    "tmrw": 1,
    "tmr": 1,
    "tomorow": 1,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
}
DATE_HINT = re.compile(
    rf"\b(?:{_MONTH}|{_WEEKDAY}|today|tonight|tomorrow|tmrw|eod|week|month|year)\b"
    r"|\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}\b",
    re.IGNORECASE,
)


def _add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _future(today: date, month: int, day: int, year: int | None) -> date | None:
    try:
        if year is not None:
            return date(year if year > 99 else 2000 + year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        return None


def _edge(today: date, which: str, nxt: str | None, unit: str) -> date:
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7 if nxt else 0)
        return {"end": monday + timedelta(days=4), "mid": monday + timedelta(days=2)}.get(
            which, monday
        )
    if unit == "year":
        year = today.year + (1 if nxt else 0)
        return {"end": date(year, 12, 31), "mid": date(year, 7, 1)}.get(which, date(year, 1, 1))
    if unit == "month":
        first = _add_months(today.replace(day=1), 1 if nxt else 0)
    else:
        month = MONTHS[unit]
        year = today.year if month >= today.month else today.year + 1
        first = date(year + (1 if nxt and year == today.year else 0), month, 1)
    if which == "end":
        return first.replace(day=calendar.monthrange(first.year, first.month)[1])
    if which in ("mid", "middle"):
        return first.replace(day=15)
    return first


def _rules(text: str, today: date) -> date | None:
    m = _ISO.match(text)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    m = _NUMERIC.match(text)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        year = int(m.group(3)) if m.group(3) else None
        month, day = (b, a) if a > 12 else (a, b)
        return _future(today, month, day, year)
    m = _DAY_MONTH.match(text)
    if m:
        return _future(today, MONTHS[m.group(2)], int(m.group(1)), _int(m.group(3)))
    m = _MONTH_DAY.match(text)
    if m:
        return _future(today, MONTHS[m.group(1)], int(m.group(2)), _int(m.group(3)))
    if text in _RELATIVE:
        return today + timedelta(days=_RELATIVE[text])
    m = _WEEKDAY_RE.match(text)
    if m:
        ahead = (WEEKDAYS[m.group(2)] - today.weekday()) % 7
        if ahead == 0 and m.group(1) not in (None, "this", "on"):
            ahead = 7
        return today + timedelta(days=ahead)
    m = _EDGE.match(text)
    if m:
        return _edge(today, m.group(1), m.group(2), m.group(3))
    if text in ("next week", "next month", "next year"):
        unit = text.split()[1]
        if unit == "week":
            return today - timedelta(days=today.weekday()) + timedelta(days=7)
        if unit == "month":
            return _add_months(today.replace(day=1), 1)
        return date(today.year + 1, 1, 1)
    m = _IN.match(text)
    if m:
        n = parse_count(m.group(1))
        if n is None:
            return None
        unit = m.group(2).rstrip("s")
        if unit == "month":
            return _add_months(today, n)
        return today + timedelta(days=n * (7 if unit == "week" else 1))
    return None


def _int(value: str | None) -> int | None:
    return int(value) if value else None


def parse_date(text: str, now: datetime | None = None) -> str | None:
    """ISO date (YYYY-MM-DD) for ``text`` relative to ``now``; None when it is not a date."""
    now = now or datetime.now()
    cleaned = " ".join(text.lower().replace(",", " ").split())
    cleaned = re.sub(r"^(?:until|till|til|by|on|before|through|thru)\s+", "", cleaned)
    if not cleaned:
        return None
    found = _rules(cleaned, now.date())
    if found is not None:
        return found.isoformat()
    if not DATE_HINT.search(cleaned):
        return None
    return _dateparser(cleaned, now)


def warm_up() -> None:
    """Import dateparser and run one parse so that the first real fallback is fast."""
    _dateparser("the 3rd of february 2027", datetime(2026, 1, 1))


def _dateparser(text: str, now: datetime) -> str | None:
    import dateparser

    base = now.replace(tzinfo=None)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
    try:
        parsed = dateparser.parse(text, languages=["en"], settings=settings)
    except (ValueError, OverflowError):
        return None
    return parsed.date().isoformat() if parsed else None
