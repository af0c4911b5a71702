"""The whole loan loop through the message path, on SQLite and PostgreSQL, with real git and a
real SMTP server, time moved by a FakeClock: request → approval → assignment → Hiera commit →
a second loan sharing a node (its push rejected because the remote moved) → a double booking
refused → views → both warnings (DM + e-mail, once each) → extension → expiry clean-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.storage.models import Request
from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans.models import Loan, LoanNode
from skills._loans.service import LOANS
from tests.loans.conftest import Remote, Sink, git, loan_overrides

ALICE_LINE = (
    "  - {u} ##t From:2027-03-01 To:{end} ##r REQ-1 ##p Porting to ARM ##e Techlab"
)


def colleague_pushes_first(remote: Remote, workdir: Path) -> None:
    """A pre-push hook in the bot's working copy: the first time, a colleague pushes to the
    remote just before the bot does, so the bot's push is rejected (the remote moved)."""
    hook = workdir / "hiera" / ".git" / "hooks" / "pre-push"
    marker = workdir / "colleague-pushed"
    hook.write_text(
        "#!/bin/sh\n"
        f'[ -e "{marker}" ] && exit 0\n'
        f'touch "{marker}"\n'
        f'cd "{remote.clone}" && unset GIT_DIR GIT_INDEX_FILE GIT_WORK_TREE && '
        "git pull -q --rebase origin main && echo x >> README && "
        "git -c user.name=C -c user.email=c@x commit -qam 'colleague edit' && "
        "git push -q origin HEAD:main\n"
    )
    hook.chmod(0o755)


async def test_loan_loop(tmp_path: Path, db_url: str, remote: Remote, smtp: Sink) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    overrides = {
        **loan_overrides(remote, tmp_path, expiry={"dry_run": False}),
        "email": {"enabled": True, "host": "127.0.0.1", "port": smtp.port, "from": "qm@x.org"},
    }
    bot = TestBot.create(tmp_path, database_url=db_url, overrides=overrides, clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await bot.app.users.ensure("test", "alice", "alice", email="alice@uni.example.org")

        # -- request → approval → assignment → Hiera commit ------------------------------
        out = await bot.say(
            "alice",
            "borrow 2 gpu nodes from 2027-03-01 to 2027-03-31 for project Porting to ARM "
            "experiment Techlab users alice, bob",
        )
        summary = out[-1].text
        assert "2 gpu" in summary and "2027-03-31" in summary and "alice, bob" in summary
        await bot.say("alice", "yes")
        req = await Request.get(type="node_loan")
        card = next(s for s in bot.sent if s.channel == "helpdesk-loans")
        out = await bot.click("alice", card, "Approve")  # never one's own
        assert (await Request.get(id=req.id)).state == "submitted"
        await bot.click("sam", card, "Approve")
        loan = await Loan.get(request_id=req.id)
        nodes = sorted(await LoanNode.filter(loan_id=loan.id).values_list("node", flat=True))
        assert nodes == ["gpu01", "gpu02"] and loan.synced
        told = " ".join(s.text for s in bot.dms_to("alice"))
        assert "gpu01, gpu02" in told
        for node in nodes:
            text = remote.file(f"nodes/{node}.yaml")
            assert ALICE_LINE.format(u="alice", end="2027-03-31") in text.splitlines()
            assert ALICE_LINE.format(u="bob", end="2027-03-31") in text.splitlines()
        assert remote.log()[0].startswith("REQ-1: ")
