"""From tagged spans to schema entities: normalised values, plus rule-found spans the tagger missed.

The CRF decides *what* a span is from context ("1234" is a job id after "job", a request id after
"request"); the normalisers decide its *value*. A small set of unambiguous patterns (``REQ-12``,
``5TB``, ``c[001-010]``, ``/scratch/x``, ``P14D``, "end of march", provider and configured
cluster names, ``@user`` mentions and "on behalf of jdoe") is added by rules when the tagger
found nothing there, which keeps recall up on wordings it never saw. Host names with hyphens
(``gpu-a100-03``, ``cn-r12-07``) look like resource ids (``vm-12``, ``dev-box-3``) to the
tagger; a hyphenated name with digits before its last part is read as a host.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nlu.features import token_class
from nlu.normalise.counts import parse_count, parse_large_number
from nlu.normalise.dates import DATE_RE, parse_date
from nlu.normalise.durations import parse_duration
from nlu.normalise.hostlists import expand_hostlist
from nlu.normalise.ids import REQUEST_ID_RE, parse_job_id, parse_request_id
from nlu.normalise.sizes import SIZE_RE, parse_size
from nlu.result import Entity
from nlu.tokens import Token

CRF_EXTRACTOR = "CRFEntityExtractor"
RULE_EXTRACTOR = "RegexEntityExtractor"
ACTIONS = ("drain", "resume", "reboot", "offline", "online", "health_check")
PROVIDERS = ("openstack", "aws", "gcp", "azure", "libvirt")
_ACTION_KEYWORDS = (
    ("undrain", "resume"),
    ("un-drain", "resume"),
    ("resume", "resume"),
    ("drain", "drain"),
    ("reboot", "reboot"),
    ("restart", "reboot"),
    ("power cycle", "reboot"),
    ("power-cycle", "reboot"),
    ("bounce", "reboot"),
    ("health", "health_check"),
    ("nhc", "health_check"),
    ("diagnos", "health_check"),
    ("check", "health_check"),
    ("offline", "offline"),
    ("down", "offline"),
    ("out of service", "offline"),
    ("online", "online"),
    ("back", "online"),
)
_FLAVOR_NAME = re.compile(r"^[a-z][\w-]*\.[\w.-]+$")
_CPUS = re.compile(
    r"(\d+|one|two|four|eight|sixteen|thirty[- ]two)\s*-?\s*(?:v?cpus?|v?cores?|vcpus?|c)\b"
)
_RAM = re.compile(
    r"(\d+(?:\.\d+)?)\s*-?\s*((?:[kmgt]i?b?|gigs?|gigabytes?))\b(?:\s*(?:of\s+)?(?:ram|mem|memory))?"
)
_DURATION_RE = re.compile(
    r"\b(?:\d+(?:\.\d+)?|a|an|one|two|three|four|five|six|ten|another|couple\s+of|few)\s*"
    r"(?:more\s+|extra\s+|additional\s+)?"
    r"(?:hours?|hrs?|days?|weeks?|wks?|months?|years?|fortnight)\b",
    re.IGNORECASE,
)
_COUNT_RE = re.compile(
    r"(?<![\w.\-/$])(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty)"
    r"(?![\w.\-/])\s+(?:x\s+)?(?:[^\s]+\s+){0,3}?"
    r"(?:vms?|instances?|machines?|servers?|boxes|workers?|vcpus?|virtual\s+machines?)\b",
    re.IGNORECASE,
)
# words before a duration that make it a requested length ("for 2 weeks", "add 3 days")
_DURATION_CUES = frozenset(
    {"for", "by", "add", "another", "more", "extra", "additional", "extend", "extended", "keep"}
    | {"give", "need", "needs", "needed", "further", "plus", "+", "to", "it", "them"}
)
_VERSION_PREFIX = re.compile(r"^(?:version|ver\.?|v\.)\s*", re.IGNORECASE)
#: a user name as written: ``@dave``, ``<@U123|dave>`` (Slack), ``jdoe``, ``li.wei``
_USER = re.compile(r"<?@?([A-Za-z0-9][\w.\-]{0,63})(?:\|[^>]{0,80})?>?")
#: words read as "for <word>" that name no person
_NOT_USERS = frozenset(
    {"me", "my", "myself", "us", "our", "ourselves", "him", "her", "them", "you", "your"}
    | {"the", "a", "an", "this", "that", "it", "everyone", "all", "group", "lab", "team"}
    | {"project", "someone", "somebody", "whom", "who"}
)
_BEHALF = re.compile(r"\bon\s+behalf\s+of\s+(@?[A-Za-z0-9][\w.\-]{0,63})", re.IGNORECASE)


@dataclass
class EntityContext:
    """What normalisation needs beyond the span: synonyms, configured clusters, message time."""

    synonyms: Mapping[str, str]
    clusters: Sequence[str] = ()
    now: datetime = field(default_factory=datetime.now)
    cluster_re: re.Pattern[str] | None = None

    @staticmethod
    def cluster_pattern(clusters: Sequence[str]) -> re.Pattern[str] | None:
        if not clusters:
            return None
        names = "|".join(re.escape(c) for c in sorted(clusters, key=len, reverse=True))
        return re.compile(rf"(?<![\w/.-])(?:{names})(?![\w/-])", re.IGNORECASE)


def normalise_action(text: str, synonyms: Mapping[str, str]) -> str | None:
    low = " ".join(text.lower().split())
    mapped = synonyms.get(low)
    if mapped in ACTIONS:
        return mapped
    for keyword, action in _ACTION_KEYWORDS:
        if keyword in low:
            return action
    return None


def parse_flavor(text: str) -> str | dict[str, int] | None:
    """A flavor name ("m1.large") or a shape ("8 cores and 32GB" → vcpus and ram_bytes)."""
    low = " ".join(text.lower().split())
    if _FLAVOR_NAME.match(low):
        return low
    out: dict[str, int] = {}
    m = _CPUS.search(low)
    if m:
        count = parse_count(m.group(1).replace("-", " "))
        if count:
            out["vcpus"] = count
    m = _RAM.search(low)
    if m:
        size = parse_size(m.group(1) + m.group(2))
        if size:
            out["ram_bytes"] = size
    if out:
        return out
    return low or None


def parse_user(text: str) -> str | None:
    """The user name (or platform id) without ``@``: "@dave" → "dave", "<@U123|dave>" → "U123"."""
    m = _USER.fullmatch(text.strip())
    if m is None:
        return None
    name = m.group(1).rstrip(".-")
    return name if name and name.lower() not in _NOT_USERS else None


def is_host_name(text: str) -> bool:
    """A hyphenated host name ("gpu-a100-03", "cn-r12-07", "a100-node-07") rather than a
    resource id ("vm-12", "dev-box-3"): a digit in a part before the last one."""
    parts = text.split("-")
    if len(text) > 64 or len(parts) < 2 or not all(p.isascii() and p.isalnum() for p in parts):
        return False
    return any(ch.isdigit() for ch in parts[-1]) and any(
        ch.isdigit() for part in parts[:-1] for ch in part
    )


def normalise(entity: str, text: str, ctx: EntityContext) -> Any | None:
    """The schema value of ``text`` read as ``entity``; None when it cannot be that entity."""
    low = text.lower().strip()
    synonyms = ctx.synonyms
    if entity == "size":
        return parse_size(text)
    if entity == "file_count":
        return parse_large_number(text)
    if entity == "count":
        return parse_count(text)
    if entity == "duration":
        return parse_duration(text)
    if entity == "date":
        return parse_date(text, ctx.now)
    if entity == "node":
        return expand_hostlist(text)
    if entity == "request_id":
        return parse_request_id(text)
    if entity == "job_id":
        return parse_job_id(text)
    if entity == "action":
        return normalise_action(text, synonyms)
    if entity == "flavor":
        return parse_flavor(text)
    if entity == "cluster":
        for name in ctx.clusters:
            if name.lower() == low:
                return name
        return None if ctx.clusters else low
    if entity == "provider":
        value = synonyms.get(low, low)
        return value if value in PROVIDERS else None
    if entity == "version":
        return _VERSION_PREFIX.sub("", text.strip()) or None
    if entity == "user":
        return parse_user(text)
    if entity in ("path", "resource_id"):
        return text.strip() or None
    if entity == "image":
        return synonyms.get(low, " ".join(low.split()))
    return synonyms.get(low, low) or None


def _overlaps(start: int, end: int, taken: Sequence[tuple[int, int]]) -> bool:
    return any(start < b and end > a for a, b in taken)


def rule_spans(
    text: str, tokens: Sequence[Token], ctx: EntityContext
) -> list[tuple[str, int, int]]:
    """Unambiguous spans found by patterns alone."""
    found: list[tuple[str, int, int]] = []
    for m in REQUEST_ID_RE.finditer(text):
        found.append(("request_id", m.start(), m.end()))
    for i, tok in enumerate(tokens):
        cls = token_class(tok.text)
        if cls == "PATH" and len(tok.text) > 1:
            found.append(("path", tok.start, tok.end))
        elif cls == "HOSTLIST":
            found.append(("node", tok.start, tok.end))
        elif cls == "ISODUR":
            found.append(("duration", tok.start, tok.end))
        elif tok.text.lower() in PROVIDERS:
            found.append(("provider", tok.start, tok.end))
        elif tok.text.startswith("@") and len(tok.text) > 1 and i > 0:
            # a leading mention usually addresses someone (the bot, a colleague): the tagger
            # decides from context ("@dave needs 5TB" vs "@quartermaster install gromacs")
            found.append(("user", tok.start, tok.end))
    for m in _BEHALF.finditer(text):
        found.append(("user", m.start(1), m.end(1)))
    for m in SIZE_RE.finditer(text):
        if m.group(1)[0].isdigit():
            found.append(("size", m.start(), m.end()))
    for m in DATE_RE.finditer(text):
        found.append(("date", m.start(), m.end()))
    for m in _COUNT_RE.finditer(text):
        if not m.group(0).lower().endswith(("vcpu", "vcpus")):
            found.append(("count", m.start(1), m.end(1)))
    for m in _DURATION_RE.finditer(text):
        before = text[max(0, m.start() - 24) : m.start()].lower().split()[-2:]
        if _DURATION_CUES.intersection(before) or _DURATION_CUES.intersection(m.group().split()):
            found.append(("duration", m.start(), m.end()))
    if ctx.cluster_re is not None:
        for m in ctx.cluster_re.finditer(text):
            found.append(("cluster", m.start(), m.end()))
    return found


def extract(
    text: str,
    tokens: Sequence[Token],
    tagged: Sequence[tuple[str, int, int]],
    ctx: EntityContext,
) -> list[Entity]:
    """Schema entities from tagger spans (token indices) and rule spans, sorted by position."""
    entities: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for entity, first, last in tagged:
        start, end = tokens[first].start, tokens[last - 1].end
        if entity == "resource_id" and is_host_name(text[start:end]):
            entity = "node"
        value = normalise(entity, text[start:end], ctx)
        if value is None:
            continue
        entities.append(Entity(entity, start, end, value, CRF_EXTRACTOR))
        taken.append((start, end))
    for entity, start, end in rule_spans(text, tokens, ctx):
        if _overlaps(start, end, taken):
            continue
        value = normalise(entity, text[start:end], ctx)
        if value is None:
            continue
        entities.append(Entity(entity, start, end, value, RULE_EXTRACTOR))
        taken.append((start, end))
    entities.sort(key=lambda e: (e.start, e.end))
    return entities
