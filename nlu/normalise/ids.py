"""Request ids ("REQ-1042", "#88", "request 1234" → "REQ-<n>") and Slurm job ids."""

from __future__ import annotations

import re

_REQ = re.compile(
    # (?<!\s): a search would otherwise restart inside every run of spaces and rescan it (n²)
    r"(?<!\s)(?:\breq(?:uest)?\s*+(?:[-_#:]\s*+)?(?:(?:no\.?|number|nr\.?)\s*+)?#?|#)?\s*+0*(\d{1,9})\b",
    re.IGNORECASE,
)
REQUEST_ID_RE = re.compile(r"\bREQ[-_ ]?#?\d{1,9}\b", re.IGNORECASE)
_JOB = re.compile(r"\b(\d{2,12}(?:_\d+|_\[[\d,\-%]+\])?(?:\.(?:\d+|batch|extern))?)\b")


def parse_request_id(text: str) -> str | None:
    """Normalise a request reference to ``REQ-<n>`` (leading zeros dropped)."""
    m = _REQ.search(text.strip())
    if not m:
        return None
    return f"REQ-{int(m.group(1))}"


def parse_job_id(text: str) -> str | None:
    """A Slurm job id as written: "4412345", "123_4" (array task), "4412345.batch"."""
    m = _JOB.search(text.strip())
    return m.group(1) if m else None
