"""Spotting secrets in free text: known token formats, and random-looking values after a keyword.

Used three ways: the inbound guard refuses channel messages that carry one, the log/outbound
redactor masks them everywhere, and values the vault has handed out are masked verbatim (a skill
that logs ``secret.reveal()`` by mistake still writes ``[redacted]``).
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass

REDACTED = "[redacted]"

_KNOWN: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(rx, flags))
    for kind, rx, flags in (
        (
            "a private key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|.*\Z)",
            re.DOTALL,
        ),
        ("a Slack token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}", 0),
        ("a Slack app token", r"\bxapp-\d-[A-Za-z0-9-]{10,}", 0),
        ("a GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})", 0),
        ("a GitLab token", r"\bglpat-[A-Za-z0-9_-]{20,}", 0),
        ("an AWS access key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", 0),
        ("an OpenStack token", r"\bgAAAAA[A-Za-z0-9_-]{80,}={0,2}", 0),
        (
            "a JSON web token",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}",
            0,
        ),
        # keystone application-credential secrets: 64 random bytes, url-safe base64, no padding
        (
            "an OpenStack application credential secret",
            r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*[A-Z])"
            r"[A-Za-z0-9_-]{86}(?![A-Za-z0-9_-])",
            0,
        ),
    )
]

_KEYWORD = re.compile(
    r"(?i)\b(?:tokens?|api[ _-]?keys?|access[ _-]?keys?|secret(?:[ _-]?(?:access[ _-]?)?keys?)?|"
    r"secrets|passwords?|passwd|passphrase|pwd|pass|credentials?|creds|auth|keys?)\b"
)
_ASSIGN = re.compile(r"\s*(?:[:=]|is\b|was\b|-)")
_CANDIDATE = re.compile(r"""[^\s'"`<>()\[\]{},;]+|[,;\n]""")
_FILLERS = frozenset(
    {
        "is",
        "was",
        "are",
        "=",
        ":",
        "-",
        "my",
        "the",
        "a",
        "an",
        "here",
        "it",
        "it's",
        "its",
        "here's",
        "for",
        "of",
        "to",
        "please",
        "now",
        "new",
        "value",
        "id",
        "secret",
        "token",
        "key",
        "password",
        "be",
        "should",
        "will",
    }
)
#: an SSH *public* key line (type, then its base64 blob, which always starts AAAA): no secret,
#: and people paste them on purpose (``my ssh key is ssh-ed25519 AAAA…``), so never a finding
_PUBLIC_KEY = re.compile(
    r"(?<![\w-])(?:ssh-(?:ed25519|rsa)|ecdsa-sha2-nistp(?:256|384|521)|"
    r"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)[ \t]+AAAA[A-Za-z0-9+/]{8,8000}={0,3}"
)
#: the name of an SSH key type before an elided key ("my ssh key is ssh-ed25519 AAAA…" in help
#: texts) or at the end; before anything else it is no exemption (the value may be a secret)
_KEY_TYPE = re.compile(
    r"(?<![\w-])(?:ssh-(?:ed25519|rsa|dss)|ecdsa-sha2-nistp(?:256|384|521))"
    r"(?=[ \t]AAAA|[ \t]*$)"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_WINDOW = 60


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str
    start: int
    end: int


def entropy(text: str) -> float:
    """Shannon entropy in bits per character (random base64 is near 6, English near 3)."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def looks_random(token: str, *, assigned: bool = False) -> bool:
    """Whether a word looks like a generated credential rather than language, a path or an id.

    After an explicit ``password: ...`` a shorter mixed value counts; otherwise it must be long,
    contain letters and digits, and be varied.
    """
    token = token.strip(".!?:")
    if token.startswith(("/", "~", "http://", "https://", "@", "#")) or "@" in token[1:]:
        return False
    if _UUID.fullmatch(token):
        return False
    letters = any(c.isalpha() for c in token)
    digits = any(c.isdigit() for c in token)
    symbols = any(not c.isalnum() for c in token)
    if assigned and len(token) >= 8:
        return letters and (digits or symbols) and entropy(token) >= 2.5
    return len(token) >= 16 and letters and digits and entropy(token) >= 3.2


#: every finding needs one of these: a 15+ character run without blanks (all known formats and
#: random values are at least that long), a PEM header, or a keyword. Most chat text has none,
#: and one search rules it out before the ten format scans run (this is on every message path).
_MAYBE = re.compile(r"\S{15,}|-----BEGIN|" + _KEYWORD.pattern[4:], re.IGNORECASE)


def find_secrets(text: str) -> list[Finding]:
    """Spans of ``text`` that look like secrets, in order, without overlaps."""
    if not _values and _MAYBE.search(text) is None:
        return []
    found: list[Finding] = []
    for kind, rx in _KNOWN:
        found += [Finding(kind, m.start(), m.end()) for m in rx.finditer(text)]
    for m in _KEYWORD.finditer(text):
        pos = m.end()
        assigned = _ASSIGN.match(text, pos) is not None
        # the value is the first word after the keyword and a few fillers ("token is: X"),
        # on the same line and before any comma -- not any random-looking word nearby
        for word in _CANDIDATE.finditer(text, pos, min(len(text), pos + _WINDOW)):
            token = word.group()
            if token in ",;\n":
                break
            if token.lower().strip(":=") in _FILLERS or not token.strip(":="):
                continue
            value = token.lstrip(":=")
            if looks_random(value, assigned=assigned):
                start = word.start() + len(token) - len(value)
                found.append(Finding("a password or key", start, word.end()))
            break
    found.extend(_remembered(text))
    public = [(m.start(), m.end()) for m in _PUBLIC_KEY.finditer(text)] if "AAAA" in text else []
    if "ssh-" in text or "ecdsa-" in text:
        public += [(m.start(), m.end()) for m in _KEY_TYPE.finditer(text)]
    if public:
        found = [f for f in found if not any(a <= f.start and f.end <= b for a, b in public)]
    found.sort(key=lambda f: (f.start, -f.end))
    merged: list[Finding] = []
    for f in found:
        if merged and f.start < merged[-1].end:
            if f.end > merged[-1].end:
                last = merged[-1]
                merged[-1] = Finding(last.kind, last.start, f.end)
            continue
        merged.append(f)
    return merged


def looks_secret(text: str) -> Finding | None:
    """The first secret-looking span of ``text``, or None."""
    found = find_secrets(text)
    return found[0] if found else None


def redact(text: str) -> str:
    """``text`` with every secret-looking span replaced by ``[redacted]`` (a bot.logs redactor)."""
    if not text:
        return text
    found = find_secrets(text)
    if not found:
        return text
    out, pos = [], 0
    for f in found:
        out += [text[pos : f.start], REDACTED]
        pos = f.end
    out.append(text[pos:])
    return "".join(out)


# -- values the vault has handled in this process ---------------------------------------------
_MIN_REMEMBERED = 6
_MAX_REMEMBERED = 256
_values: OrderedDict[str, None] = OrderedDict()
_lock = threading.Lock()


def remember(value: str) -> None:
    """Mask this exact value in logs and replies from now on (bounded, most recent kept)."""
    if len(value) < _MIN_REMEMBERED:
        return
    with _lock:
        _values[value] = None
        _values.move_to_end(value)
        while len(_values) > _MAX_REMEMBERED:
            _values.popitem(last=False)


def forget_all() -> None:
    with _lock:
        _values.clear()


def _remembered(text: str) -> list[Finding]:
    if not _values:
        return []
    with _lock:
        values = list(_values)
    hits = []
    for value in values:
        start = text.find(value)
        while start != -1:
            hits.append(Finding("a stored secret", start, start + len(value)))
            start = text.find(value, start + len(value))
    return hits
