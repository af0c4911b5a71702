"""Typed request fields: parse an answer, explain a rejection, display a value, compare values.

The parsers are the NLU's normalisers (``nlu.normalise``), so "8TB" typed as an answer and "8TB"
found in a sentence mean the same number of bytes. Stored values are JSON-friendly: sizes in
bytes, integers, ISO dates ("2027-01-15") and ISO durations ("P14D").
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from bot.bounds import quoted
from nlu.normalise import parse_date, parse_duration, parse_large_number, parse_size

if TYPE_CHECKING:
    from bot.workflow.spec import FieldSpec

FIELD_TYPES = ("size", "integer", "path", "text", "choice", "date", "duration")


class FieldError(ValueError):
    """An answer that does not fit the field; the message says why, for the user."""


_ISO_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_SI = (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("KB", 10**3))
_PATH = re.compile(r"^(?:/|\$[A-Za-z_]+|~)[^\s]*$")

#: Beyond any field's own ``min``/``max``: what a value can be at all. A size past an exabyte, a
#: count past a signed 64-bit integer or a duration past ten years is a typo, and would overflow
#: the databases' BIGINT and Python's ``timedelta`` wherever it went next.
SIZE_MAX = 10**18  # bytes: 1,000 PB
INTEGER_MAX = 2**63 - 1
DURATION_MAX = 3653 * 86400  # seconds: ten years
#: a typed number, size, duration or date is a few words; longer text is not one (and is never
#: handed to the normalisers, whose integer conversions grow with the digits)
VALUE_TEXT = 100
#: the length of a text or path field without its own ``max_length``
TEXT_MAX = 2000
PATH_MAX = 1024
_NEGATIVE = re.compile(r"^(?:-|\u2212|minus\s)\s*\d")


def duration_seconds(iso: str) -> int | None:
    """Seconds in an ISO duration (a month counts 30 days, a year 365), for comparisons."""
    m = _ISO_DURATION.match(iso or "")
    if not m:
        return None
    y, mo, w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    return ((y * 365 + mo * 30 + w * 7 + d) * 24 + h) * 3600 + mi * 60 + s


def format_size(value: int) -> str:
    for unit, factor in _SI:
        if value >= factor:
            try:
                text = f"{value / factor:.2f}"
            except OverflowError:  # past a float: whole units, in integers
                text = str(value // factor)
            text = text.rstrip("0").rstrip(".") if "." in text else text
            return f"{text} {unit}"
    return f"{value} bytes"


def format_duration(iso: str) -> str:
    m = _ISO_DURATION.match(iso or "")
    if not m:
        return str(iso)
    names = ("year", "month", "week", "day", "hour", "minute", "second")
    parts = []
    for count, name in zip(m.groups(), names, strict=True):
        if count and int(count):
            n = int(count)
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
    return ", ".join(parts) or "0 seconds"


def parse_bound(field_type: str, raw: Any) -> Any:
    """A ``min``/``max`` written in the YAML, in the field's stored form."""
    if field_type == "size":
        value = raw if isinstance(raw, int) else parse_size(str(raw))
    elif field_type == "integer":
        value = raw if isinstance(raw, int) else parse_large_number(str(raw))
    elif field_type == "duration":
        iso = parse_duration(str(raw))
        value = duration_seconds(iso) if iso else None
    elif field_type == "text":
        value = raw if isinstance(raw, int) else None
    else:
        raise ValueError(f"min/max are not supported for {field_type} fields")
    if value is None:
        raise ValueError(f"{raw!r} is not a valid bound for a {field_type} field")
    return value


def parse_answer(spec: FieldSpec, text: str, now: datetime | None = None) -> Any:
    """The stored value for a typed answer, or ``FieldError`` with a reason the user can act on."""
    text = text.strip()
    if not text:
        raise FieldError(f"I need a value for {spec.label}.")
    value: Any
    if spec.type in ("size", "integer") and _NEGATIVE.match(text):
        raise FieldError(f"{spec.label} can't be negative{_at_least(spec)}.")
    if spec.type == "size":
        value = _normalised(parse_size, text)
        if value is None:
            raise FieldError(
                f"{quoted(text)} isn't a size I understand — write it like 500GB or 8TB."
            )
    elif spec.type == "integer":
        value = _normalised(parse_large_number, text)
        if value is None:
            raise FieldError(f"{quoted(text)} isn't a whole number — write it like 4 or 2 million.")
    elif spec.type == "duration":
        value = _normalised(parse_duration, text)
        if value is None:
            raise FieldError(
                f"{quoted(text)} isn't a duration I understand — write it like 36 hours or 2 days."
            )
    elif spec.type == "date":
        value = _normalised(lambda t: parse_date(t, now), text)
        if value is None:
            raise FieldError(
                f"{quoted(text)} isn't a date I understand — write it like 2027-01-15 or "
                "next friday."
            )
    elif spec.type == "choice":
        value = _choice(spec, text)
    elif spec.type == "path":
        value = text.strip("`'\"")
        if not _PATH.match(value):
            raise FieldError(
                f"{quoted(text)} isn't a path — it should start with / (for example "
                "/scratch/group/neuro) and contain no spaces."
            )
        if "/../" in value + "/" or value.endswith("/.."):
            raise FieldError("Please give the path without '..' in it.")
    else:
        value = text
    return validate(spec, value)


def _normalised(parse: Any, text: str) -> Any:
    """A normaliser's value for a short ``text``; None for anything it cannot turn into one
    (too long to be a value, or a number past what a float holds)."""
    if len(text) > VALUE_TEXT:
        return None
    try:
        return parse(text)
    except (OverflowError, ValueError):
        return None


def _at_least(spec: FieldSpec) -> str:
    return f" (the least is {spec.min_display})" if spec.min_value is not None else ""


def _choice(spec: FieldSpec, text: str) -> str:
    lowered = text.lower().strip(" .!")
    for option in spec.choices:
        if lowered == option.lower():
            return option
    if lowered.isdigit() and 1 <= int(lowered) <= len(spec.choices):
        return spec.choices[int(lowered) - 1]
    starts = [o for o in spec.choices if o.lower().startswith(lowered)]
    if len(starts) == 1:
        return starts[0]
    raise FieldError(
        f"{quoted(text)} isn't one of the options for {spec.label}: {', '.join(spec.choices)}."
    )


def validate(spec: FieldSpec, value: Any) -> Any:
    """Check a value of the right type against the field's limits (also for NLU entities)."""
    if spec.type == "size":
        if not isinstance(value, int) or isinstance(value, bool):
            raise FieldError(f"{spec.label} must be a size, like 500GB or 8TB.")
        if value <= 0:
            raise FieldError(f"{spec.label} must be more than zero{_at_least(spec)}.")
    elif spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            raise FieldError(f"{spec.label} must be a whole number.")
    elif spec.type == "date":
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            raise FieldError(f"{spec.label} must be a date.") from None
        if spec.future and day < date.today():
            raise FieldError(f"{spec.label} must be today or later, not {day.isoformat()}.")
    elif spec.type == "duration":
        if duration_seconds(str(value)) is None:
            raise FieldError(f"{spec.label} must be a duration.")
    elif spec.type == "choice" and value not in spec.choices:
        raise FieldError(f"{spec.label} must be one of: {', '.join(spec.choices)}.")
    elif spec.type in ("text", "path"):
        value = str(value)
        limit = spec.max_length or (PATH_MAX if spec.type == "path" else TEXT_MAX)
        if len(value) > limit:
            raise FieldError(
                f"{spec.label} can be at most {limit:,} characters (yours has {len(value):,})."
            )
        if spec.pattern and not re.search(spec.pattern, value):
            hint = spec.pattern_hint or f"it must match {spec.pattern}"
            raise FieldError(f"{quoted(value)} doesn't fit {spec.label}: {hint}.")
    _check_bounds(spec, value)
    _check_absolute(spec, value)
    return value


def _check_absolute(spec: FieldSpec, value: Any) -> None:
    """The limits past any field's own ``max`` (checked after it, whose message is nearer)."""
    if spec.type == "size" and value > SIZE_MAX:
        raise FieldError(f"{spec.label} can be at most {format_size(SIZE_MAX)}.")
    if spec.type == "integer" and abs(value) > INTEGER_MAX:
        raise FieldError(f"{spec.label} can be at most {INTEGER_MAX:,}.")
    if spec.type == "duration" and (duration_seconds(str(value)) or 0) > DURATION_MAX:
        raise FieldError(f"{spec.label} can be at most ten years.")


def _check_bounds(spec: FieldSpec, value: Any) -> None:
    measure = compare_value(spec, value)
    if spec.type == "text":
        measure = len(str(value))
    if spec.min_value is not None and measure is not None and measure < spec.min_value:
        raise FieldError(
            f"{display(spec, value)} is less than the minimum for {spec.label} "
            f"({spec.min_display})."
        )
    if spec.max_value is not None and measure is not None and measure > spec.max_value:
        raise FieldError(
            f"{display(spec, value)} is more than the maximum for {spec.label} "
            f"({spec.max_display})."
        )


def coerce_entity(spec: FieldSpec, value: Any, now: datetime | None = None) -> Any:
    """An NLU entity value (already normalised) as this field's value; FieldError if it doesn't
    fit."""
    if spec.type == "integer" and isinstance(value, str):
        return parse_answer(spec, value, now)
    if spec.type in ("text", "path", "choice") and not isinstance(value, str):
        value = str(value)
    if spec.type in ("choice", "path"):
        return parse_answer(spec, value, now)
    return validate(spec, value)


def compare_value(spec: FieldSpec, value: Any) -> Any:
    """The value conditions see: bytes for sizes, seconds for durations, the rest as stored."""
    if value is None:
        return None
    if spec.type == "duration":
        return duration_seconds(str(value))
    return value


def display(spec: FieldSpec, value: Any) -> str:
    """A value as people read it: 8 TB, 2 days, 2027-01-15."""
    if value is None or value == "":
        return "—"
    if spec.type == "size" and isinstance(value, int):
        return format_size(value)
    if spec.type == "duration":
        return format_duration(str(value))
    if spec.type == "integer" and isinstance(value, int):
        return f"{value:,}"
    return str(value)
