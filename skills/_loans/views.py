"""Loans as people read them: in chat (mine, one loan, a node's holders, free nodes) and as
rows for the staff calendar (``quartermaster loans list --json`` / ``--csv``)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from bot.errors import UserError
from nlu.normalise import parse_date
from skills._loans import models
from skills._loans.assign import loan_nodes

if TYPE_CHECKING:
    from bot.context import Context

SEE_ALL = "see_all_requests"  # the role group that sees every request also sees every loan
COLUMNS = (
    "request",
    "state",
    "requester",
    "requester_name",
    "nodes",
    "start",
    "end",
    "project",
    "experiment",
    "users",
    "extensions",
    "synced",
)


def hostlist(nodes: list[str]) -> str:
    """``gpu[01-04],arm07``: ClusterShell folds the names."""
    from ClusterShell.NodeSet import NodeSet

    return str(NodeSet.fromlist(nodes)) if nodes else "—"


def may_see(ctx: Context, loan: models.Loan) -> bool:
    """Borrower, the loan's users and the see-all group see a loan's project and users."""
    return (
        ctx.user_key == loan.requester
        or ctx.user_name in (loan.users or [])
        or ctx.app.roles.in_group(ctx.user_key, SEE_ALL)
    )


async def line(loan: models.Loan, full: bool = True) -> str:
    nodes = hostlist(await loan_nodes(loan))
    text = f"{loan.ref}: {nodes}, {loan.start} to {loan.end}"
    if loan.state != models.ACTIVE:
        text += f" ({loan.state})"
    if full:
        text += f" — {loan.project or 'no project'}"
        text += f" / {loan.experiment}" if loan.experiment else ""
        text += f"; users {', '.join(loan.users)}"
    return text


async def detail(loan: models.Loan, full: bool) -> str:
    text = await line(loan, full)
    text += f"; borrowed by {loan.requester_name or loan.requester}"
    if full and loan.extensions:
        text += f"; extended {loan.extensions}×"
    if full and not loan.synced and loan.state == models.ACTIVE:
        text += "; Hiera not yet updated (retried hourly)"
    return text


async def mine(user_key: str, user_name: str) -> str:
    loans = [
        loan
        for loan in await models.Loan.filter(state=models.ACTIVE).order_by("start", "id")
        if loan.requester == user_key or user_name in (loan.users or [])
    ]
    if not loans:
        return "You have no node loans. Borrow nodes with e.g. `borrow 2 gpu from … to …`."
    return "Your node loans:\n" + "\n".join([f"• {await line(loan)}" for loan in loans])


async def holders(ctx: Context, node: str, today: date) -> str:
    rows = (
        await models.LoanNode.filter(node=node, active=True, end__gte=today)
        .order_by("start")
        .prefetch_related("loan")
    )
    if not rows:
        return f"Nobody has {node}: it is free from {today} on."
    out = []
    for row in rows:
        loan: models.Loan = row.loan
        who = loan.requester_name or loan.requester
        now = " (now)" if row.start <= today else ""
        text = f"• {loan.ref}{now}: {who}, {row.start} to {row.end}"
        if may_see(ctx, loan):
            text += f" — {loan.project or 'no project'}; users {', '.join(loan.users)}"
        out.append(text)
    return f"Loans of {node}:\n" + "\n".join(out)


def period(text: str, today: date) -> tuple[date, date]:
    """ "next week", "this week", "today", "tomorrow", "on D", "from D to D", "until D" (or
    nothing: today) as two dates, both included."""
    words = text.lower().strip(" ?.!").removeprefix("for ").strip()
    if words in ("", "now", "today"):
        return today, today
    if words == "tomorrow":
        return today + timedelta(days=1), today + timedelta(days=1)
    if words in ("this week",):
        monday = today - timedelta(days=today.weekday())
        return today, monday + timedelta(days=6)
    if words == "next week":
        monday = today + timedelta(days=7 - today.weekday())
        return monday, monday + timedelta(days=6)
    if words == "next month":
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        return first, last
    start_text, sep, end_text = words.removeprefix("from ").partition(" to ")
    if not sep:
        start_text, sep, end_text = f" {words}".partition(" until ")
    if sep:
        start = _day(start_text.strip() or "today", today)
        end = _day(end_text, today)
    else:
        start = end = _day(words.removeprefix("on "), today)
    if end < start:
        raise UserError(f"{end} is before {start}.")
    return start, end


def _day(text: str, today: date) -> date:
    from datetime import UTC, datetime

    found = parse_date(text, datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    if found is None:
        raise UserError(
            f"{text[:40]!r} isn't a date I understand — say e.g. `free nodes next week` or "
            "`free gpu nodes from 2027-03-01 to 2027-03-14`."
        )
    return date.fromisoformat(found)


async def rows(include_ended: bool = False) -> list[dict[str, Any]]:
    """One row per loan for the staff calendar, by start date."""
    qs = models.Loan.all() if include_ended else models.Loan.filter(state=models.ACTIVE)
    out = []
    for loan in await qs.order_by("start", "id"):
        out.append(
            {
                "request": loan.ref,
                "state": loan.state,
                "requester": loan.requester,
                "requester_name": loan.requester_name,
                "nodes": await loan_nodes(loan),
                "start": loan.start.isoformat(),
                "end": loan.end.isoformat(),
                "project": loan.project,
                "experiment": loan.experiment,
                "users": list(loan.users),
                "extensions": loan.extensions,
                "synced": loan.synced,
            }
        )
    return out


def as_json(data: list[dict[str, Any]]) -> str:
    return json.dumps(data, indent=2)


def as_csv(data: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in data:
        flat = {
            **row,
            "nodes": ",".join(row["nodes"]),
            "users": ",".join(row["users"]),
            "synced": str(row["synced"]).lower(),
        }
        writer.writerow({k: _inert(v) for k, v in flat.items()})
    return out.getvalue()


def _inert(value: Any) -> Any:
    """A text people typed (a project) never becomes a formula in a spreadsheet."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
