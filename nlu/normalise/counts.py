"""Counts ("3", "two", "a couple") and large counts such as file numbers ("2 million", "500k")."""

from __future__ import annotations

import re

UNITS = {
    "zero": 0,
    "no": 0,
    "one": 1,
    "a": 1,
    "an": 1,
    "single": 1,
    "another": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "couple": 2,
    "pair": 2,
    "dozen": 12,
    "half-dozen": 6,
    "both": 2,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
SUFFIX_SCALES = {"k": 1_000, "m": 1_000_000, "mil": 1_000_000, "mio": 1_000_000, "b": 1_000_000_000}
SCALE_ALIASES = {"mln": "million", "mil": "million", "millions": "million", "thousands": "thousand"}
NUMBER_WORDS = frozenset(UNITS) | frozenset(TENS) | frozenset(SCALES)

_FILLER = frozenset({"of", "and", "more", "extra", "additional", "new", "few", "just", "only"})
_DIGITS = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d+(?:\.\d+)?$")
_NUM_SUFFIX = re.compile(r"^(\d+(?:\.\d+)?)\s*(k|m|mil|mio|b)$", re.IGNORECASE)
_SPLIT = re.compile(r"[\s-]+")
_SCI = re.compile(r"^(\d+(?:\.\d+)?)e(\d{1,2})$", re.IGNORECASE)


def _number(word: str) -> float | None:
    word = word.strip()
    if _DIGITS.match(word):
        return float(word.replace(",", ""))
    m = _SCI.match(word)
    if m:
        return float(m.group(1)) * 10.0 ** int(m.group(2))
    return None


def _words_value(words: list[str]) -> float | None:
    """Value of a phrase like "two million", "1.5 million", "twenty five", "a couple"."""
    total = 0.0
    current: float | None = None
    seen = False
    factor = 1.0
    if words and words[0] == "half":
        factor, words = 0.5, words[1:]
    if len(words) > 1 and words[0] in ("a", "an"):
        words = words[1:]
    for raw in words:
        word = SCALE_ALIASES.get(raw, raw)
        if word in _FILLER:
            continue
        num = _number(word)
        if num is None:
            m = _NUM_SUFFIX.match(word)
            if m:
                num = float(m.group(1)) * SUFFIX_SCALES[m.group(2).lower()]
        if num is not None:
            current = (current or 0) + num
            seen = True
        elif word in UNITS:
            current = (current or 0) + UNITS[word]
            seen = True
        elif word in TENS:
            current = (current or 0) + TENS[word]
            seen = True
        elif word in SCALES:
            scale = SCALES[word]
            base = current if current else 1
            if scale == 100:
                current = base * 100
            else:
                total += base * scale
                current = None
            seen = True
        else:
            return None
    if not seen:
        return None
    return (total + (current or 0)) * factor


def parse_count(text: str) -> int | None:
    """A small whole count: "3", "two", "a couple", "twenty five"; None if not a count."""
    words = [w for w in _SPLIT.split(text.lower().strip()) if w]
    if not words:
        return None
    value = _words_value(words)
    if value is None or value != int(value) or value < 0:
        return None
    return int(value)


def parse_large_number(text: str) -> int | None:
    """A possibly large number with scale words or suffixes: "2 million", "500k", "1,000,000"."""
    cleaned = text.lower().strip().replace("+", "")
    words = [w for w in _SPLIT.split(cleaned) if w]
    if not words:
        return None
    value = _words_value(words)
    if value is None or value < 0:
        return None
    return round(value)
