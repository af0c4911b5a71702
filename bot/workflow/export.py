"""CSV export: one row per request with its id, type, state, people, times and every field.

Field columns are the union of all configured fields (``field:<name>``), so one file covers every
type; values are stored values (sizes in bytes, ISO dates and durations) for spreadsheets.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from bot.storage.models import Request, User
from bot.workflow.spec import RequestType

BASE_COLUMNS = [
    "id",
    "type",
    "state",
    "requester",
    "requester_name",
    "filed_by",
    "assignee",
    "channel",
    "created_at",
    "updated_at",
    "closed_at",
    "deleted",
]


def field_columns(types: dict[str, RequestType], requests: Iterable[Request]) -> list[str]:
    names: dict[str, None] = {}
    for spec in types.values():
        names.update(dict.fromkeys(spec.fields))
    for req in requests:
        names.update(dict.fromkeys(dict(req.fields_data)))
    return [f"field:{n}" for n in names]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


async def fetch(
    type_: str | None = None, state: str | None = None, include_deleted: bool = False
) -> list[Request]:
    qs = Request.all()
    if not include_deleted:
        qs = qs.filter(deleted=False)
    if type_:
        qs = qs.filter(type=type_)
    if state:
        qs = qs.filter(state=state)
    return await qs.order_by("id").prefetch_related("requester", "filed_by")


def write_csv(out: TextIO, requests: list[Request], types: dict[str, RequestType]) -> int:
    columns = field_columns(types, requests)
    writer = csv.writer(out)
    writer.writerow(BASE_COLUMNS + columns)
    for req in requests:
        requester = req.requester if isinstance(req.requester, User) else None
        filed_by = req.filed_by if isinstance(req.filed_by, User) else None
        data = dict(req.fields_data)
        row = [
            req.ref,
            req.type,
            req.state,
            requester.key if requester else "",
            requester.name if requester else "",
            filed_by.key if filed_by else "",
            req.assignee or "",
            req.channel or "",
            req.created_at.isoformat() if req.created_at else "",
            req.updated_at.isoformat() if req.updated_at else "",
            req.closed_at.isoformat() if req.closed_at else "",
            str(req.deleted).lower(),
        ]
        row += [_cell(data.get(c.removeprefix("field:"))) for c in columns]
        writer.writerow(row)
    return len(requests)
