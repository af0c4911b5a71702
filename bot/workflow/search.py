"""Finding requests: by type, state, requester, assignee, open/closed, or any field.

Query words: ``type:quota state:submitted requester:alice assignee:bob open closed mine``,
field filters ``size>5TB``, ``path:/scratch`` (contains), ``cluster=grace``, and free words that
must appear in some field value. Type, state and people filter in the database; field filters run
over the remaining rows (helpdesk volumes are thousands, not millions).
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.bounds import quoted, user_id
from bot.errors import UserError
from bot.storage.models import Request, User
from bot.workflow.fields import FieldError, compare_value, display, parse_answer
from bot.workflow.spec import RequestType

_TERM = re.compile(r"^(?P<key>[a-z_]+)\s*(?P<op><=|>=|!=|=|:|<|>)\s*(?P<value>.+)$", re.IGNORECASE)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}
LIMIT = 5000


@dataclass
class Query:
    types: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    requester: str | None = None
    assignee: str | None = None
    open: bool | None = None
    fields: list[tuple[str, str, str]] = field(default_factory=list)
    words: list[str] = field(default_factory=list)


#: plain-language glue in "find requests from alice about /scratch": not words to match
_FILLER = frozenset({"about", "on", "with", "in", "the", "any", "all", "request", "requests", "of"})
_PERSON_BEFORE = frozenset({"from", "by", "for"})


def parse_query(text: str, user_key: str | None = None) -> Query:
    q = Query()
    tokens = re.findall(r"\S+?[:=<>!]+\"[^\"]*\"|\S+", text)
    person_next = False
    for token in tokens:
        token = token.replace('"', "")
        lowered = token.lower()
        if person_next:  # "from alice", "by @bob", "for carol"
            q.requester = token.lstrip("@")
            person_next = False
            continue
        if lowered in _PERSON_BEFORE:
            person_next = True
            continue
        if lowered in _FILLER:
            continue
        if lowered in ("open", "pending"):
            q.open = True
            continue
        if lowered in ("closed", "done"):
            q.open = False
            continue
        if lowered in ("mine", "my") and user_key:
            q.requester = user_key
            continue
        m = _TERM.match(token)
        if m is None:
            q.words.append(lowered)
            continue
        key, op, value = m.group("key").lower(), m.group("op"), m.group("value")
        if key == "type":
            q.types.append(value.lower())
        elif key == "state":
            q.states.append(value.lower())
        elif key in ("requester", "by", "from"):
            q.requester = value.lstrip("@")
        elif key in ("assignee", "assigned"):
            q.assignee = value.lstrip("@")
        else:
            q.fields.append((key, op, value))
    return q


async def _people(who: str) -> list[int]:
    user_id(who)  # longer than any user id: said clearly (the column would refuse it)
    if ":" in who:
        platform, _, pid = who.partition(":")
        users = await User.filter(platform=platform, platform_id=pid)
    else:
        users = await User.filter(name__iexact=who) or await User.filter(platform_id=who)
    return [u.id for u in users]


def _matches(spec: RequestType, data: dict[str, Any], name: str, op: str, raw: str) -> bool:
    field_spec = spec.fields.get(name)
    if field_spec is None:
        return False
    value = data.get(name)
    if value is None:
        return op == "!="
    if op == ":" and field_spec.type in ("text", "path", "choice"):
        return raw.lower() in str(value).lower()
    try:
        wanted = parse_answer(field_spec, raw)
    except FieldError:
        return False
    left, right = compare_value(field_spec, value), compare_value(field_spec, wanted)
    try:
        return _OPS["=" if op == ":" else op](left, right)
    except TypeError:
        return False


async def search(types: dict[str, RequestType], query: Query) -> list[Request]:
    """Requests matching every term, newest first (deleted ones are never shown)."""
    known = {n for t in (query.types or types) if t in types for n in types[t].fields}
    for name, _, _ in query.fields:
        if name not in known:
            raise UserError(_unknown_field(name, known))
    qs = Request.filter(deleted=False)
    if query.types:
        unknown = [t for t in query.types if t not in types]
        if unknown:
            raise UserError(
                f"There is no request type {quoted(unknown[0], 40)}. "
                f"Types: {', '.join(sorted(types))}."
            )
        qs = qs.filter(type__in=query.types)
    if query.states:
        qs = qs.filter(state__in=query.states)
    if query.requester:
        qs = qs.filter(requester_id__in=await _people(query.requester))
    if query.assignee:
        user_id(query.assignee)
        qs = qs.filter(assignee__icontains=query.assignee)
    if query.open is True:
        qs = qs.filter(closed_at=None)
    elif query.open is False:
        qs = qs.filter(closed_at__not_isnull=True)
    out = []
    for req in await qs.order_by("-id").limit(LIMIT).prefetch_related("requester"):
        spec = types.get(req.type)
        data = dict(req.fields_data)
        if spec is None:
            if query.fields or query.words:
                continue
            out.append(req)
            continue
        if not all(_matches(spec, data, n, op, v) for n, op, v in query.fields):
            continue
        if query.words:
            haystack = " ".join(
                [
                    req.type,
                    req.state,
                    *(
                        f"{v} {display(spec.fields[k], v)}"
                        for k, v in data.items()
                        if k in spec.fields
                    ),
                ]
            ).lower()
            if not all(w in haystack for w in query.words):
                continue
        out.append(req)
    return out


#: how many field names an "unknown field" answer lists before pointing at ``type:``
FIELDS_LISTED = 12


def _unknown_field(name: str, known: set[str]) -> str:
    """Name the close matches first ("sise" → size); list the rest only while the list stays
    short (every request type adds fields), else say how to see one type's fields."""
    fields = sorted(known)
    close = difflib.get_close_matches(name.lower(), fields, n=3, cutoff=0.6)
    text = f"No request has a field {quoted(name, 40)}."
    if close:
        text += f" Did you mean {' or '.join(close)}?"
    shown = ", ".join(fields[:FIELDS_LISTED])
    if len(fields) > FIELDS_LISTED:
        shown += f" and {len(fields) - FIELDS_LISTED} more (add `type:NAME` for one type's)"
    return f"{text} Fields you can search: {shown}; and type:, state:, requester:, assignee:."
