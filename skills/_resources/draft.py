"""What someone asked for, read from the model's entities and the words themselves, and the
questions for what is missing.

The model reads "2 ubuntu 22.04 m1.large for a week" well; "4 cpus, 16 gigs" it takes as a count
of 4 and a size, so sizes are read from the text here (bounded, linear patterns) and a count the
model took from a CPU or memory figure is dropped."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, replace
from typing import Any

from bot.workflow.fields import duration_seconds
from nlu.normalise import parse_count, parse_duration
from skills._resources.settings import VmSettings

MAX_TEXT = 500  # longest part of a message the patterns look at

_CPUS = re.compile(r"\b(\d{1,4})\s?(?:v?cpus?|cores?|processors?)\b", re.IGNORECASE)
_MEMORY = re.compile(
    r"\b(\d{1,5})\s?(?:gb|gib|g|gigs?|gigabytes?)\b(?:\s(?:of\s)?(?:ram|memory|mem)\b)?",
    re.IGNORECASE,
)
_ONE = re.compile(
    r"\b(?:a|an|one|another)\s(?:new\s)?(?:vm|virtual\smachine|instance|machine|server|box)\b",
    re.IGNORECASE,
)
_FLAVOR = re.compile(r"[a-z][a-z0-9_-]{0,15}\.[a-z0-9][a-z0-9._-]{0,20}", re.IGNORECASE)
_IMAGE = re.compile(r"[a-z][a-z0-9._ -]{0,59}", re.IGNORECASE)
_SIZE_WORDS = re.compile(r"\s?(?:v?cpus?|cores?|processors?|gb|gib|gigs?|g\b)", re.IGNORECASE)

FIELDS = ("image", "size", "count", "days", "provider")


@dataclass(frozen=True, slots=True)
class Draft:
    """A VM request being put together (kept in the conversation state as a dict)."""

    image: str | None = None
    flavor: str | None = None
    cpus: int | None = None
    memory_gb: int | None = None
    count: int | None = None
    days: int | None = None
    provider: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Draft:
        known = {k: raw[k] for k in cls.__slots__ if k in raw}
        return cls(**known)

    def merge(self, other: Draft) -> Draft:
        """``other``'s values where it has them (a correction wins)."""
        return replace(self, **other.to_dict())

    def missing(self) -> str | None:
        """The first thing still to ask, in the order people think of it."""
        if not self.image:
            return "image"
        if not self.flavor and not (self.cpus and self.memory_gb):
            return "size"
        if not self.count:
            return "count"
        if not self.days:
            return "days"
        if not self.provider:
            return "provider"
        return None

    def sized(self, settings: VmSettings) -> Draft:
        """CPUs and memory filled in from a known flavor (for policy and for libvirt)."""
        if self.flavor and self.flavor in settings.flavors and not (self.cpus and self.memory_gb):
            size = settings.flavors[self.flavor]
            return replace(self, cpus=size.cpus, memory_gb=max(1, size.memory_mb // 1024))
        return self

    def size_text(self) -> str:
        parts = []
        if self.cpus:
            parts.append(f"{self.cpus} CPU{'s' if self.cpus != 1 else ''}")
        if self.memory_gb:
            parts.append(f"{self.memory_gb} GB")
        size = ", ".join(parts)
        if self.flavor:
            return f"{self.flavor} ({size})" if size else self.flavor
        return size

    def summary(self) -> str:
        """ "2 VMs, ubuntu-22.04, m1.large (4 CPUs, 8 GB), for 7 days on libvirt"."""
        count = self.count or 1
        where = f" on {self.provider}" if self.provider else ""
        return (
            f"{count} VM{'s' if count != 1 else ''}, {self.image}, {self.size_text()}, "
            f"for {days_text(self.days or 0)}{where}"
        )


def days_text(days: int) -> str:
    if days % 7 == 0 and days >= 7:
        weeks = days // 7
        return f"{weeks} week{'s' if weeks != 1 else ''} ({days} days)"
    return f"{days} day{'s' if days != 1 else ''}"


def days_of(iso: str | None) -> int | None:
    """Whole days in an ISO duration (rounded up: "36 hours" is 2 days), None if none."""
    seconds = duration_seconds(iso or "") if iso else None
    if not seconds:
        return None
    return max(1, math.ceil(seconds / 86400))


def normal_image(text: str) -> str | None:
    """ "Ubuntu 22.04" -> "ubuntu-22.04"."""
    text = text.strip().strip("`'\".,")[:60]
    if not _IMAGE.fullmatch(text):
        return None
    return re.sub(r"[\s_]+", "-", text.lower()).strip("-") or None


def _sizes(text: str) -> tuple[int | None, int | None]:
    cpus = _CPUS.search(text)
    memory = _MEMORY.search(text)
    return (int(cpus.group(1)) if cpus else None, int(memory.group(1)) if memory else None)


def from_message(
    text: str, entities: list[tuple[str, Any, int, int]], providers: list[str]
) -> Draft:
    """A draft from the model's entities ``(name, value, start, end)`` and the text."""
    text = text[:MAX_TEXT]
    cpus, memory = _sizes(text)
    found: dict[str, Any] = {"cpus": cpus, "memory_gb": memory}
    for name, value, _start, end in entities:
        if name == "count" and isinstance(value, int) and "count" not in found:
            if _SIZE_WORDS.match(text[end : end + 12]):
                continue  # "4 cpus": a size, not a number of VMs
            found["count"] = value
        elif name == "image" and isinstance(value, str) and "image" not in found:
            found["image"] = normal_image(value)
        elif name == "flavor" and "flavor" not in found:
            if isinstance(value, str):
                found["flavor"] = value.lower()
            elif isinstance(value, dict):
                found["cpus"] = found["cpus"] or value.get("vcpus")
                ram = value.get("ram_bytes")
                if isinstance(ram, int) and not found["memory_gb"]:
                    found["memory_gb"] = max(1, round(ram / 10**9))
        elif name == "duration" and isinstance(value, str) and "days" not in found:
            found["days"] = days_of(value)
        elif name == "provider" and isinstance(value, str) and value.lower() in providers:
            found["provider"] = value.lower()
    if "count" not in found and _ONE.search(text):
        found["count"] = 1
    if "provider" not in found:
        lowered = text.lower()
        named = [p for p in providers if p in lowered]
        if len(named) == 1:
            found["provider"] = named[0]
    return Draft(**{k: v for k, v in found.items() if v is not None})


def answer(asking: str, text: str, providers: list[str]) -> Draft | None:
    """The answer to the question about ``asking`` (plus anything else said with it), or None
    when the text does not answer it."""
    text = text.strip()[:MAX_TEXT]
    extra = from_message(text, [], providers)
    if asking == "image":
        image = normal_image(text)
        return extra.merge(Draft(image=image)) if image else None
    if asking == "size":
        if extra.cpus and extra.memory_gb:
            return extra
        flavor = _FLAVOR.fullmatch(text.strip("`'\". "))
        return Draft(flavor=flavor.group(0).lower()) if flavor else None
    if asking == "count":
        count = parse_count(text.lower().replace("vms", "").replace("vm", "").strip())
        return Draft(count=count) if count else None
    if asking == "days":
        iso = parse_duration(text if re.search(r"[a-z]", text, re.IGNORECASE) else f"{text} days")
        days = days_of(iso)
        return Draft(days=days) if days else None
    if asking == "provider":
        word = text.lower().strip("`'\". ")
        return Draft(provider=word) if word in providers else None
    return None


QUESTIONS = {
    "image": "Which image should it run (for example ubuntu-22.04 or rocky-9)?",
    "size": "Which size: a flavor (for example m1.large) or CPUs and memory (4 cpus, 16 GB)?",
    "count": "How many VMs?",
    "days": "For how long (for example a week, 10 days)?",
    "provider": "Where should I create {them}?",
}
