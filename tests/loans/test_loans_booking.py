"""Booking under pressure: concurrent bookings never share a node for overlapping dates (the
transaction locks the nodes; PostgreSQL and SQLite), and `reload skills` keeps loans working
(the re-imported models module uses the classes tortoise initialised)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans import assign
from skills._loans.inventory import NodeRequest
from skills._loans.models import LoanNode
from tests.loans.conftest import Remote, loan_overrides
from tests.loans.test_loans_flow import loans_service
from tests.loans.test_loans_policy import lend


async def test_concurrent_bookings_never_overlap(
    tmp_path: Path, db_url: str, remote: Remote
) -> None:
    bot = TestBot.create(tmp_path, database_url=db_url, overrides=loan_overrides(remote, tmp_path))
    async with bot:
        settings = loans_service(bot).settings

        async def book(n: int) -> Any:
            terms = assign.LoanTerms(
                request_id=100 + n,
                requester=f"test:u{n}",
                requester_name=f"u{n}",
                start=date(2027, 3, 1 + n),
                end=date(2027, 3, 20),
                users=(f"u{n}",),
            )
            try:
                return await assign.book(settings, NodeRequest(count=2, kind="gpu"), terms)
            except assign.NotAvailable as exc:
                return exc

        results = await asyncio.gather(*(book(n) for n in range(5)))
        refused = [r for r in results if isinstance(r, assign.NotAvailable)]
        assert len(refused) == 3 and all("Only 0 gpu nodes are free" in str(r) for r in refused)
        rows = await LoanNode.all().values_list("node", flat=True)
        assert sorted(rows) == ["gpu01", "gpu02", "gpu03", "gpu04"]
        # the same nodes after the period are free again, and taken free-first
        later = await assign.free_nodes(settings, date(2027, 3, 21), date(2027, 3, 30), "gpu")
        assert later == ["gpu01", "gpu02", "gpu03", "gpu04"]


async def test_loans_survive_reload_skills(tmp_path: Path, remote: Remote) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("root", "admin")
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "gpu01")
        (report,) = await bot.say("root", "reload skills")
        assert "skills.loans" in report.text or "loans" in report.text
        (mine,) = await bot.say("alice", "my loans")
        assert "REQ-1: gpu01" in mine.text
        await lend(bot, "carol", "gpu01")  # overlapping: refused after the reload too
        assert any("gpu01 (REQ-1)" in s.text for s in bot.dms_to("carol"))
        await lend(bot, "carol", "gpu02")
        assert "##r REQ-3" in remote.file("nodes/gpu02.yaml")
        assert bot.app.observers.names.count("loan-expiry") == 1
