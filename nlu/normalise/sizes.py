"""Storage sizes ("5TB", "750 GB", "1.5 TiB") to integer bytes: SI units are powers of ten,
IEC units (KiB, MiB, …) powers of two, as the NLU schema says."""

from __future__ import annotations

import re

_PREFIX = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
WORDS = {
    "byte": "b",
    "bytes": "b",
    "kilobyte": "kb",
    "kilobytes": "kb",
    "kilo": "kb",
    "kilos": "kb",
    "megabyte": "mb",
    "megabytes": "mb",
    "meg": "mb",
    "megs": "mb",
    "mega": "mb",
    "gigabyte": "gb",
    "gigabytes": "gb",
    "gig": "gb",
    "gigs": "gb",
    "giga": "gb",
    "terabyte": "tb",
    "terabytes": "tb",
    "tera": "tb",
    "teras": "tb",
    "terra": "tb",
    "petabyte": "pb",
    "petabytes": "pb",
    "peta": "pb",
    "kibibyte": "kib",
    "kibibytes": "kib",
    "mebibyte": "mib",
    "mebibytes": "mib",
    "gibibyte": "gib",
    "gibibytes": "gib",
    "tebibyte": "tib",
    "tebibytes": "tib",
    "pebibyte": "pib",
    "pebibytes": "pib",
}
_UNIT = r"(?:[kmgtpe]i?b|[gtpe]i?|b|bytes?|(?:kilo|mega|giga|tera|terra|peta)(?:bytes?|s)?|gigs?|megs?|(?:kibi|mebi|gibi|tebi|pebi)bytes?)"  # noqa: E501
SIZE_RE = re.compile(
    rf"(?<![\w.])(\d+(?:[.,]\d+)?|half\s+an?|a|one|two|three|four|five|ten|twenty|fifty|hundred)"
    rf"\s?-?\s?({_UNIT})(?![\w])",
    re.IGNORECASE,
)
_FULL = re.compile(rf"^\s*(\d+(?:[.,]\d+)?|[a-z]+(?:\s+an?)?)\s?-?\s?({_UNIT})\s*$", re.IGNORECASE)
_NUMWORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "ten": 10,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
    "half a": 0.5,
    "half an": 0.5,
}


def unit_bytes(unit: str) -> int | None:
    """Bytes in one ``unit`` ("TB" → 10**12, "TiB" → 2**40, "G" → 10**9); None if unknown."""
    u = unit.lower()
    u = WORDS.get(u, u)
    if u in ("b", ""):
        return 1
    prefix = u[0]
    if prefix not in _PREFIX or prefix == "":
        return None
    rest = u[1:]
    if rest in ("", "b"):
        return int(1000 ** _PREFIX[prefix])
    if rest in ("i", "ib"):
        return int(1024 ** _PREFIX[prefix])
    return None


def parse_size(text: str) -> int | None:
    """Parse "5TB", "750 GB", "1.5 TiB", "half a TB", "2 gigs"; None when not a size."""
    m = _FULL.match(text)
    if not m:
        return None
    raw, unit = m.group(1).lower(), m.group(2)
    if raw[0].isdigit():
        # "1,5" is a decimal comma; "1,500" is a thousands separator
        if "," in raw:
            head, tail = raw.split(",", 1)
            raw = head + tail if len(tail) == 3 else head + "." + tail
        number = float(raw)
    else:
        found = _NUMWORDS.get(" ".join(raw.split()))
        if found is None:
            return None
        number = float(found)
    factor = unit_bytes(unit)
    if factor is None:
        return None
    if unit.lower() in ("b", "byte", "bytes") and not raw[0].isdigit():
        return None
    return round(number * factor)
