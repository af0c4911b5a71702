"""What a loan asks for: named nodes (a hostlist) or a count of one kind, checked against the
configured inventory (``loans.inventory``: node -> kind and rack)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import UserError
from nlu.normalise import expand_hostlist, parse_count
from skills._loans.settings import LoanSettings

MAX_TEXT = 300
#: "4 gpu", "4 gpu nodes", "two arm machines": a count, a kind and an optional noun
_COUNT_KIND = re.compile(
    r"^(?P<count>\d{1,4}|[a-z]{3,12})\s+(?P<kind>[a-z][a-z0-9_-]{0,39})"
    r"(?:\s+(?:nodes?|machines?|boxes|box|servers?|hosts?))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """Either ``names`` (a hostlist) or ``count`` nodes of ``kind``."""

    names: tuple[str, ...] = ()
    count: int = 0
    kind: str = ""

    def describe(self) -> str:
        if self.names:
            return ",".join(self.names)
        return f"{self.count} {self.kind}"


def parse_nodes(text: str, settings: LoanSettings) -> NodeRequest:
    """The nodes ``text`` asks for; ``UserError`` naming what is wrong (unknown kind or node)."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise UserError(f"That list of nodes is too long (at most {MAX_TEXT} characters).")
    m = _COUNT_KIND.fullmatch(text)
    if m:
        count = parse_count(m.group("count"))
        kind = _kind(m.group("kind"), settings)
        if kind is not None and isinstance(count, int):
            if count < 1:
                raise UserError("Ask for at least one node.")
            available = len(settings.nodes_of(kind))
            if count > available:
                raise UserError(
                    f"There are only {available} {kind} nodes, so I can't lend {count}."
                )
            return NodeRequest(count=count, kind=kind)
        if isinstance(count, int) and kind is None:
            raise UserError(
                f"I don't lend {m.group('kind')!r} nodes. Kinds: {', '.join(settings.kinds)}."
            )
    names = expand_hostlist(text)
    if not names:
        raise UserError(
            f"{text[:80]!r} isn't a list of nodes I understand — write a hostlist such as "
            "gpu[01-04] or a count and a kind such as 4 gpu."
        )
    unknown = [n for n in names if n not in settings.inventory]
    if unknown:
        shown = ", ".join(unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise UserError(f"I don't lend {shown}: not in the loan inventory.")
    return NodeRequest(names=tuple(names))


def _kind(word: str, settings: LoanSettings) -> str | None:
    word = word.lower()
    for kind in settings.kinds:
        if word in (kind.lower(), kind.lower() + "s"):
            return kind
    return None
