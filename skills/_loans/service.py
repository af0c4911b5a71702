"""The loans service (``app.services[LOANS]``): settings, the Hiera working copy, and the two
things done to it — write a loan's users into its nodes' files, and take exactly them out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.services import ServiceKey
from skills._loans import hiera, models
from skills._loans.assign import loan_nodes
from skills._loans.gitrepo import WorkingCopy
from skills._loans.settings import LoanSettings

if TYPE_CHECKING:
    from bot.app import Application

HEADER = "# Node loans, managed by Quartermaster (checked by `quartermaster hiera check`)"


@dataclass
class Loans:
    settings: LoanSettings
    repo: WorkingCopy | None

    @classmethod
    def create(cls, settings: LoanSettings) -> Loans:
        repo = None
        if settings.hiera_repo is not None and settings.remote:
            repo = WorkingCopy(
                settings.hiera_repo,
                settings.remote,
                settings.branch,
                timeout=settings.git_timeout,
                attempts=settings.push_attempts,
                author=settings.author,
            )
        return cls(settings, repo)

    def node_file(self, node: str) -> str:
        return self.settings.node_file.format(node=node)

    def working_copy(self) -> WorkingCopy:
        if self.repo is None:
            raise UserError(
                "Node loans have no Hiera repository configured (loans.hiera_repo and "
                "loans.remote); an admin has to set them."
            )
        return self.repo

    def user_lines(self, loan: models.Loan) -> list[str]:
        return [
            hiera.format_user(u, loan.start, loan.end, loan.ref, loan.project, loan.experiment)
            for u in loan.users
        ]

    async def write(self, loan: models.Loan, why: str) -> str | None:
        """Put (or update) the loan's lines in each of its nodes' files: one commit, pushed."""
        nodes = await loan_nodes(loan)
        lines = self.user_lines(loan)
        key = self.settings.users_key
        extra = dict(loan.extra or {})

        def edit(text: str) -> str:
            text = hiera.remove_loan(text, key, loan.ref, {}, set())
            return hiera.add_loan(text, key, lines, extra, HEADER)

        message = f"{loan.ref}: {why}\n\nNodes: {', '.join(nodes)}\nUsers: {', '.join(loan.users)}"
        sha = await self.working_copy().change({self.node_file(n): edit for n in nodes}, message)
        await models.Loan.filter(id=loan.id).update(synced=True)
        loan.synced = True
        return sha

    async def remove(self, loan: models.Loan, why: str) -> str | None:
        """Take exactly this loan's users (and its extra entries no other loan there needs) out
        of exactly its nodes' files: one commit, pushed."""
        nodes = await loan_nodes(loan)
        key = self.settings.users_key
        extra = dict(loan.extra or {})
        edits = {}
        for node in nodes:
            keep = await self._wanted_by_others(node, loan)
            edits[self.node_file(node)] = partial(_remove, key, loan.ref, extra, keep)
        message = f"{loan.ref}: {why}\n\nNodes: {', '.join(nodes)}\nUsers: {', '.join(loan.users)}"
        return await self.working_copy().change(edits, message)

    async def _wanted_by_others(self, node: str, loan: models.Loan) -> set[str]:
        others = await models.Loan.filter(
            state=models.ACTIVE, nodes__node=node, nodes__active=True
        ).exclude(id=loan.id)
        return {
            hiera.format_pair(k, v)
            for other in others
            for pairs in (other.extra or {}).values()
            for k, v in pairs
        }


def _remove(
    key: str, ref: str, extra: dict[str, list[list[str]]], keep: set[str], text: str
) -> str:
    return hiera.remove_loan(text, key, ref, extra, keep)


def days_between(start: date, end: date) -> int:
    """Days a loan runs, both ends included."""
    return (end - start).days + 1


LOANS: ServiceKey[Loans] = ServiceKey("loans", Loans)


def service(app: Application) -> Loans:
    found = app.services.get(LOANS)
    if found is None:
        raise UserError("Node loans are not set up (the loans skill is not loaded).")
    return found
