"""Assigning nodes to loans: free ones first, never two loans on one node for overlapping dates.

The check and the insert happen in one transaction that first locks the candidate nodes'
``NodeLock`` rows (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers), so two
approvals at the same moment cannot both take the last free node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from bot.errors import UserError
from skills._loans import models
from skills._loans.inventory import NodeRequest
from skills._loans.settings import LoanSettings


class NotAvailable(UserError):
    """The nodes asked for are taken for (part of) the period."""


@dataclass(frozen=True, slots=True)
class LoanTerms:
    request_id: int
    requester: str
    requester_name: str
    start: date
    end: date
    project: str = ""
    experiment: str = ""
    users: tuple[str, ...] = ()
    extra: dict[str, list[list[str]]] = field(default_factory=dict)


async def ensure_locks(settings: LoanSettings) -> None:
    """One lock row per inventory node (added at setup, so booking never races to create one)."""
    have = set(await models.NodeLock.all().values_list("node", flat=True))
    missing = [models.NodeLock(node=n) for n in settings.inventory if n not in have]
    if missing:
        await models.NodeLock.bulk_create(missing, ignore_conflicts=True)


async def busy(nodes: list[str], start: date, end: date, conn: Any = None) -> dict[str, int]:
    """Nodes among ``nodes`` held by an active loan overlapping start..end -> that request id."""
    rows = (
        await models.LoanNode.filter(node__in=nodes, active=True, start__lte=end, end__gte=start)
        .using_db(conn)
        .prefetch_related("loan")
    )
    return {row.node: row.loan.request_id for row in rows}


async def free_nodes(
    settings: LoanSettings, start: date, end: date, kind: str | None = None
) -> list[str]:
    """Inventory nodes (of ``kind``) no active loan holds for any day of start..end."""
    candidates = settings.nodes_of(kind) if kind else sorted(settings.inventory)
    taken = await busy(candidates, start, end)
    return [n for n in candidates if n not in taken]


async def book(settings: LoanSettings, wanted: NodeRequest, terms: LoanTerms) -> models.Loan:
    """Create the loan and its nodes, or raise ``NotAvailable`` saying what is taken."""
    if terms.end < terms.start:
        raise UserError("The loan ends before it starts.")
    candidates = list(wanted.names) or settings.nodes_of(wanted.kind)
    async with in_transaction() as conn:
        existing = await models.Loan.filter(request_id=terms.request_id).using_db(conn).first()
        if existing is not None:
            return existing  # approved twice (a retried action): the booking stands
        await _lock(candidates, conn)
        taken = await busy(candidates, terms.start, terms.end, conn)
        if wanted.names:
            clash = [n for n in wanted.names if n in taken]
            if clash:
                raise NotAvailable(
                    "Already lent for those dates: "
                    + ", ".join(f"{n} (REQ-{taken[n]})" for n in clash)
                    + ". Say `free nodes` to see what is free."
                )
            chosen = list(wanted.names)
        else:
            free = [n for n in candidates if n not in taken]
            if len(free) < wanted.count:
                raise NotAvailable(
                    f"Only {len(free)} {wanted.kind} node{'s' if len(free) != 1 else ''} "
                    f"{'are' if len(free) != 1 else 'is'} free from {terms.start} to "
                    f"{terms.end}; {wanted.count} were asked for."
                )
            chosen = await _free_first(free, wanted.count, conn)
        loan = await models.Loan.create(
            request_id=terms.request_id,
            requester=terms.requester,
            requester_name=terms.requester_name,
            project=terms.project,
            experiment=terms.experiment,
            users=list(terms.users),
            extra=terms.extra,
            start=terms.start,
            end=terms.end,
            using_db=conn,
        )
        await models.LoanNode.bulk_create(
            [models.LoanNode(loan=loan, node=n, start=terms.start, end=terms.end) for n in chosen],
            using_db=conn,
        )
    return loan


async def _free_first(free: list[str], count: int, conn: Any) -> list[str]:
    """Prefer nodes no other (earlier or later) loan holds, then the least booked, by name."""
    rows = await (
        models.LoanNode.filter(node__in=free, active=True)
        .using_db(conn)
        .values_list("node", flat=True)
    )
    load = Counter(str(r) for r in rows)
    return sorted(free, key=lambda n: (load[n], n))[:count]


async def extend(loan: models.Loan, until: date) -> None:
    """Move the loan's end to ``until`` unless another loan holds one of its nodes by then."""
    async with in_transaction() as conn:
        nodes = await loan_nodes(loan, conn)
        await _lock(nodes, conn)
        rows = await (
            models.LoanNode.filter(
                node__in=nodes, active=True, start__lte=until, end__gte=loan.start
            )
            .exclude(loan_id=loan.id)
            .using_db(conn)
            .prefetch_related("loan")
        )
        if rows:
            raise NotAvailable(
                "Can't extend: "
                + ", ".join(sorted({f"{r.node} is lent to REQ-{r.loan.request_id}" for r in rows}))
                + f" before {until}."
            )
        loan.end = until
        loan.extensions += 1
        loan.synced = False
        await loan.save(using_db=conn, update_fields=["end", "extensions", "synced"])
        await models.LoanNode.filter(loan_id=loan.id).using_db(conn).update(end=until)


async def _lock(nodes: list[str], conn: Any) -> None:
    """Hold the nodes' lock rows until the transaction ends (in name order: no deadlocks)."""
    await (
        models.NodeLock.filter(node__in=sorted(nodes))
        .order_by("node")
        .select_for_update()
        .using_db(conn)
    )


async def loan_nodes(loan: models.Loan, conn: Any = None) -> list[str]:
    rows = (
        await models.LoanNode.filter(loan_id=loan.id).using_db(conn).values_list("node", flat=True)
    )
    return sorted(str(r) for r in rows)
