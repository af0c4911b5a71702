"""Watching loans: warnings before the end, clean-up at the end, retries of unsynced files.

The observer only says what is true now; the core runner (``app.observers``) tells each
(loan, kind) once and keeps that across restarts; the e-mail copy of a warning or of the end
(``Finding.email_subject``) is recorded with the DM, in the same transaction. At expiry exactly
that loan's users leave exactly its nodes' files (one commit), unless ``loans.expiry.dry_run``
is on: then staff are told what would go.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.events import Choice
from bot.observers import Finding
from skills._loans import models
from skills._loans.assign import loan_nodes
from skills._loans.service import Loans

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

NAME = "loan-expiry"
EXTEND_ACTION = "loans.extend"
STAFF = "staff"
#: each warning once (a new one only when the end date moves and the warning is due again)
REPEAT = timedelta(days=3660)


class LoanExpiry:
    name = NAME

    def __init__(self, loans: Loans) -> None:
        self.loans = loans
        self.every = timedelta(minutes=loans.settings.expiry.every_minutes)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        today = now.astimezone(UTC).date()
        findings: list[Finding] = []
        for loan in await models.Loan.filter(state=models.ACTIVE).order_by("id"):
            if not loan.synced and loan.end >= today:
                await self._resync(loan)
            if today > loan.end:
                findings += await self._expired(app, loan, today)
                continue
            found = self._warning(loan, today)
            if found is not None:
                findings.append(found)
        return findings

    def _warning(self, loan: models.Loan, today: date) -> Finding | None:
        left = (loan.end - today).days
        due = [d for d in self.loans.settings.expiry.warn_days if left <= d]
        if not due:
            return None
        days = min(due)
        when = "today" if left == 0 else f"in {left} day{'s' if left != 1 else ''}"
        text = (
            f"Your node loan {loan.ref} ({loan.project or 'no project'}) ends on "
            f"{loan.end.isoformat()}, {when}: its users ({', '.join(loan.users)}) then lose "
            f"access. Press Extend (or say `extend loan {loan.ref}`) to ask for more time."
        )
        return Finding(
            subject=f"loan:{loan.ref}",
            kind=f"expires-{days}d",
            text=text,
            notify=(loan.requester,),
            choices=(Choice("Extend", EXTEND_ACTION, loan.ref),),
            email_subject=f"{loan.ref}: your node loan ends soon",
        )

    async def _expired(self, app: Application, loan: models.Loan, today: date) -> list[Finding]:
        nodes = await loan_nodes(loan)
        staff = tuple(k for k in app.roles.holders(STAFF) if k != loan.requester)
        what = f"{', '.join(loan.users)} from {', '.join(nodes)}"
        if self.loans.settings.expiry.dry_run:
            return [
                Finding(
                    subject=f"loan:{loan.ref}",
                    kind="expired-dry-run",
                    text=(
                        f"Dry run: node loan {loan.ref} ended on {loan.end.isoformat()}; expiry "
                        f"would now remove {what}. Nothing was changed (loans.expiry.dry_run "
                        "is on)."
                    ),
                    notify=staff,
                )
            ]
        try:
            sha = await self.loans.remove(loan, f"loan ended on {loan.end.isoformat()}")
        except Exception as exc:
            log.warning("expiry of %s: Hiera clean-up failed: %s", loan.ref, _why(exc))
            return [
                Finding(
                    subject=f"loan:{loan.ref}",
                    kind="cleanup-failed",
                    text=(
                        f"Node loan {loan.ref} ended, but removing {what} from the Hiera files "
                        f"failed ({_why(exc)}); I'll try again."
                    ),
                    notify=staff,
                )
            ]
        await end_loan(loan)
        app.audit.record("loans", "loan.expired", loan.ref, nodes=nodes, commit=sha or "")
        text = (
            f"Node loan {loan.ref} ended on {loan.end.isoformat()}: {what} "
            f"{'were' if len(loan.users) != 1 else 'was'} removed"
            + (f" (commit {sha[:10]})." if sha else ".")
        )
        return [
            Finding(
                subject=f"loan:{loan.ref}",
                kind="ended",
                text=text,
                notify=(loan.requester, *staff),
                email_subject=f"{loan.ref}: your node loan has ended",
                email_to=(loan.requester,),
            )
        ]

    async def _resync(self, loan: models.Loan) -> None:
        try:
            await self.loans.write(loan, "write the loan's users (retry)")
        except Exception as exc:
            log.warning("loan %s: Hiera write still fails: %s", loan.ref, _why(exc))


def _why(exc: Exception) -> str:
    return str(exc) if isinstance(exc, UserError) else type(exc).__name__


async def end_loan(loan: models.Loan) -> None:
    loan.state = models.ENDED
    loan.ended_at = datetime.now(UTC)
    await loan.save(update_fields=["state", "ended_at"])
    await models.LoanNode.filter(loan_id=loan.id).update(active=False)
