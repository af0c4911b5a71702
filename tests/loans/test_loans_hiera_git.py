"""The Hiera working copy under trouble, with real git: a remote that refuses leaves the working
copy clean and the loan booked but unsynced until the observer's retry succeeds; concurrent
changes to one node are serialised; extra blocks (sudoers) shared by two loans stay while one
of them still needs them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans import models
from tests.loans.conftest import Remote, git, loan_overrides
from tests.loans.test_loans_flow import colleague_pushes_first, loans_service
from tests.loans.test_loans_policy import lend


def refuse_pushes(remote: Remote, marker: Path) -> None:
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text(
        f'#!/bin/sh\n[ -e "{marker}" ] && echo "frozen for maintenance" && exit 1\nexit 0\n'
    )
    hook.chmod(0o755)
    marker.touch()


async def test_a_refusing_remote_leaves_nothing_half_done(tmp_path: Path, remote: Remote) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "gpu01")
        marker = tmp_path / "frozen"
        refuse_pushes(remote, marker)
        await lend(bot, "carol", "gpu02")
        told = " ".join(s.text for s in bot.dms_to("carol"))
        assert "Assigned gpu02" in told and "could not be updated" in told
        assert "pre-receive hook declined" in told or "git push failed" in told
        loan = await models.Loan.get(request_id=2)
        assert not loan.synced
        work = tmp_path / "hiera"
        assert git(work, "status", "--porcelain") == ""  # nothing half-edited
        assert git(work, "rev-parse", "HEAD") == git(work, "rev-parse", "origin/main")
        assert not (work / "nodes" / "gpu02.yaml").exists()
        assert remote.file("nodes/gpu02.yaml") == ""
        # the remote is back: the next observer run writes the loan
        marker.unlink()
        await bot.app.observers.run("loan-expiry")
        assert (await models.Loan.get(request_id=2)).synced
        assert "carol ##t From:2027-03-01 To:2027-03-31 ##r REQ-2" in remote.file(
            "nodes/gpu02.yaml"
        )


async def test_concurrent_changes_to_one_node_are_serialised(
    tmp_path: Path, remote: Remote
) -> None:
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path))
    async with bot:
        loans = loans_service(bot)
        made = []
        for n, (start, end) in enumerate(
            [
                ("2027-03-01", "2027-03-10"),
                ("2027-03-11", "2027-03-20"),
                ("2027-03-21", "2027-03-31"),
            ]
        ):
            loan = await models.Loan.create(
                request_id=50 + n,
                requester=f"test:u{n}",
                project=f"P{n}",
                users=[f"u{n}"],
                start=datetime.fromisoformat(start).date(),
                end=datetime.fromisoformat(end).date(),
            )
            await models.LoanNode.create(loan=loan, node="gpu04", start=loan.start, end=loan.end)
            made.append(loan)
        shas = await asyncio.gather(*(loans.write(loan, "lend") for loan in made))
        assert len(set(shas)) == 3
        lines = [ln for ln in remote.file("nodes/gpu04.yaml").splitlines() if "##r" in ln]
        assert sorted(lines) == [
            f"  - u{n} ##t From:{m.start} To:{m.end} ##r REQ-{50 + n} ##p P{n}"
            for n, m in enumerate(made)
        ]
        assert sorted(remote.log()[:3]) == ["REQ-50: lend", "REQ-51: lend", "REQ-52: lend"]


async def test_a_shared_sudoers_entry_stays_while_a_loan_needs_it(
    tmp_path: Path, remote: Remote
) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        for dates in ("2027-03-01 to 2027-03-31", "2027-04-01 to 2027-04-30"):
            await bot.say(
                "alice",
                f"borrow arm01 from {dates} project P experiment E users alice, bob sudo alice",
            )
            await bot.say("alice", "yes")
        await bot.say("sam", "approve REQ-1")
        await bot.say("sam", "approve REQ-2")
        text = remote.file("nodes/arm01.yaml")
        assert text.count('  - alice: "ALL=(ALL) ALL"') == 1
        assert "sudoers:" in text and "bob:" not in text
        await bot.say("alice", "release loan REQ-1")
        text = remote.file("nodes/arm01.yaml")
        assert "##r REQ-1 " not in text and "##r REQ-2 " in text
        assert '  - alice: "ALL=(ALL) ALL"' in text  # REQ-2 still grants it
        await bot.say("alice", "release loan REQ-2")
        text = remote.file("nodes/arm01.yaml")
        assert text.splitlines()[1:] == ["users: []"]


@pytest.mark.parametrize("hook", ["pre-commit", "pre-push"])
async def test_a_push_rejected_because_the_remote_moved_is_rebased(
    tmp_path: Path, remote: Remote, hook: str
) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "gpu01")
        colleague_pushes_first(remote, tmp_path, hook)
        await lend(bot, "carol", "gpu02")
        assert loans_service(bot).repo.rejected_pushes == 1
        assert remote.log()[:2] == ["REQ-2: lend to carol until 2027-03-31", "colleague edit"]
        assert "##r REQ-2" in remote.file("nodes/gpu02.yaml")
        assert (await models.Loan.get(request_id=2)).synced
