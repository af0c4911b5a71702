"""Slurm hostlists ("c[001-010]", "gpu[05-08],wn0189", "c001-c010") to lists of host names."""

from __future__ import annotations

import re

MAX_NODES = 100_000
HOST_CHARS = re.compile(r"^[A-Za-z0-9_.\-\[\],]+$")
# "c001-c010": a range written with the prefix repeated, which NodeSet does not accept
_PREFIX_RANGE = re.compile(r"^([A-Za-z][A-Za-z_.\-]*?)(\d+)-\1?(\d+)$")
_HOSTISH = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*\d[A-Za-z0-9_.\-]*$")
_BRACKET = re.compile(r"^[A-Za-z0-9_.\-]*\[[\d,\-\s]+\][A-Za-z0-9_.\-]*(?:,|$)")


def looks_like_hostlist(token: str) -> bool:
    """Cheap test used by the tagger's features: brackets with digits or a host-like word."""
    return bool(_BRACKET.match(token) or (_HOSTISH.match(token) and token[-1] not in ".-"))


def _rewrite_ranges(part: str) -> str:
    m = _PREFIX_RANGE.match(part)
    if not m:
        return part
    prefix, lo, hi = m.groups()
    width = max(len(lo), len(hi)) if len(lo) == len(hi) or lo.startswith("0") else 0
    lo_i, hi_i = int(lo), int(hi)
    if hi_i < lo_i:
        return part
    if width:
        return f"{prefix}[{lo.zfill(width)}-{hi.zfill(width)}]"
    return f"{prefix}[{lo_i}-{hi_i}]"


_GROUP = re.compile(r"\[([^\[\]]*)\]")
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _size(part: str) -> int | None:
    """Number of hosts a part expands to, computed without expanding (None if malformed)."""
    total = 1
    for group in _GROUP.findall(part):
        count = 0
        for piece in group.split(","):
            m = _RANGE.match(piece)
            if not m:
                return None
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            if hi < lo:
                return None
            count += hi - lo + 1
        total *= count
    return total


def _split_top(text: str) -> list[str]:
    """Split on commas/spaces that are not inside brackets."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if depth == 0 and (ch in ", " or ch.isspace()):
            if cur:
                parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if cur:
        parts.append("".join(cur))
    return parts


def expand_hostlist(text: str) -> list[str] | None:
    """Expand a hostlist to host names in order; None if it is not a valid hostlist.

    Accepts Slurm/ClusterShell syntax, comma- or space-separated lists ("c001, c002 and c003")
    and prefix-repeated ranges ("c001-c010"). Refuses lists above ``MAX_NODES`` hosts.
    """
    cleaned = re.sub(r"\s+(?:and|&|\+)\s+", ",", text.strip())
    cleaned = re.sub(r"\s*,\s*", ",", cleaned)
    parts = [_rewrite_ranges(p) for p in _split_top(cleaned)]
    if not parts or not all(HOST_CHARS.match(p) for p in parts):
        return None
    if not all(p[0].isalnum() for p in parts):
        return None
    sizes = [_size(p) for p in parts]
    if any(s is None for s in sizes) or sum(s or 0 for s in sizes) > MAX_NODES:
        return None  # NodeSet would build every name first: "c[1-99999999]" must stay cheap
    from ClusterShell.NodeSet import NodeSet, NodeSetException

    try:
        nodeset = NodeSet(",".join(parts))
    except (NodeSetException, ValueError, IndexError):
        return None
    if len(nodeset) == 0 or len(nodeset) > MAX_NODES:
        return None
    ordered: list[str] = []
    seen: set[str] = set()
    for part in parts:  # keep the order the user wrote, NodeSet sorts
        try:
            for host in NodeSet(part):
                if host not in seen:
                    seen.add(host)
                    ordered.append(host)
        except (NodeSetException, ValueError, IndexError):
            return None
    return ordered
