"""The whole loan loop through the message path, on SQLite and PostgreSQL, with real git and a
real SMTP server, time moved by a FakeClock: request → approval → assignment → Hiera commit →
a second loan sharing a node (its push rejected because the remote moved) → a double booking
refused → views → both warnings (DM + e-mail, once each) → extension → expiry clean-up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.storage.models import Request
from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans.models import Loan, LoanNode
from tests.loans.conftest import Remote, Sink, loan_overrides

ALICE_LINE = "  - {u} ##t From:2027-03-01 To:{end} ##r REQ-1 ##p Porting to ARM ##e Techlab"


def loans_service(bot: TestBot) -> Any:
    """The running loans service (the skill loader re-imported its module: look up by name)."""
    (key,) = [k for k in bot.app.services if k.name == "loans"]
    return bot.app.services[key]


def colleague_pushes_first(remote: Remote, workdir: Path, hook_name: str = "pre-push") -> None:
    """A hook in the bot's working copy: the first time, a colleague pushes to the remote just
    before the bot does, so the bot's push is rejected (the remote moved). In ``pre-push`` the
    remote's ref changes under the push ("cannot lock ref"); in ``pre-commit`` the push finds the
    remote ahead ("[rejected] … (fetch first)")."""
    hook = workdir / "hiera" / ".git" / "hooks" / hook_name
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

        # -- a second loan on gpu01, later; the remote moves just before the bot pushes ------
        colleague_pushes_first(remote, tmp_path)
        await bot.say(
            "carol",
            "borrow gpu01 from 2027-05-01 to 2027-05-31 project Vision experiment CV users carol",
        )
        await bot.say("carol", "yes")
        req2 = await Request.filter(type="node_loan").order_by("-id").first()
        assert req2 is not None
        await bot.say("sam", f"approve {req2.ref}")
        loans = loans_service(bot)
        assert loans.repo is not None and loans.repo.rejected_pushes == 1
        log = remote.log()
        assert log[0].startswith(f"{req2.ref}: ") and "colleague edit" in log
        gpu01 = remote.file("nodes/gpu01.yaml").splitlines()
        assert ALICE_LINE.format(u="alice", end="2027-03-31") in gpu01
        assert (
            f"  - carol ##t From:2027-05-01 To:2027-05-31 ##r {req2.ref} ##p Vision ##e CV" in gpu01
        )
        assert "x" in remote.file("README")  # the colleague's change is kept

        # -- a double booking is refused at approval, and nothing is written -----------------
        before = remote.log()
        await bot.say(
            "dave", "borrow gpu02 from 2027-03-20 to 2027-04-10 project P experiment E users dave"
        )
        await bot.say("dave", "yes")
        req3 = await Request.filter(type="node_loan").order_by("-id").first()
        assert req3 is not None and req3.id != req2.id
        await bot.say("sam", f"approve {req3.ref}")
        assert await Loan.get_or_none(request_id=req3.id) is None
        assert any("gpu02 (REQ-1)" in s.text for s in bot.dms_to("dave"))
        assert remote.log() == before

        # -- views -------------------------------------------------------------------------
        (mine,) = await bot.say("bob", "show my loans")
        assert "REQ-1" in mine.text and "gpu[01-02]" in mine.text and req2.ref not in mine.text
        (holders,) = await bot.say("dave", "who has gpu01?")
        assert "REQ-1" in holders.text and req2.ref in holders.text
        assert "Vision" not in holders.text  # projects only for those who may see them
        clock.set(datetime(2027, 3, 3, 9, tzinfo=UTC))  # a Wednesday
        (free,) = await bot.say("dave", "which nodes are free next week?")
        assert "2027-03-08 to 2027-03-14" in free.text
        assert "arm[01-02],gpu[03-04]" in free.text and "gpu01" not in free.text

        # -- the warnings: 15 and 5 days ahead, DM with Extend and e-mail, each once ---------
        clock.set(datetime(2027, 3, 16, 9, tzinfo=UTC))
        start = len(bot.sent)
        await bot.app.observers.run("loan-expiry")
        await bot.app.background.idle()
        warned = [s for s in bot.sent[start:] if s.dm_to == "alice"]
        assert len(warned) == 1 and "2027-03-31, in 15 days" in warned[0].text
        assert warned[0].labels == ["Extend"]
        assert smtp.subjects("alice@uni.example.org")[-1].endswith(
            "REQ-1: your node loan ends soon"
        )
        mails = len(smtp.messages)
        clock.advance(hours=1)
        start = len(bot.sent)
        await bot.app.observers.run("loan-expiry")
        await bot.app.background.idle()
        assert (
            not [s for s in bot.sent[start:] if s.dm_to == "alice"] and len(smtp.messages) == mails
        )
        clock.set(datetime(2027, 3, 26, 9, tzinfo=UTC))
        await bot.app.observers.run("loan-expiry")
        await bot.app.background.idle()
        second = [s for s in bot.dms_to("alice") if "in 5 days" in s.text]
        assert len(second) == 1 and len(smtp.messages) == mails + 1

        # -- extension: the button starts it, staff approve, Hiera gets the new date ---------
        out = await bot.click("alice", second[0], "Extend")
        assert "until which day" in out[-1].text.lower()
        out = await bot.say("alice", "2027-04-15")
        assert "REQ-1" in out[-1].text and "2027-04-15" in out[-1].text
        await bot.say("alice", "yes")
        ext = await Request.get(type="loan_extension")
        await bot.say("sam", f"approve {ext.ref}")
        loan = await Loan.get(request_id=req.id)
        assert str(loan.end) == "2027-04-15" and loan.extensions == 1
        assert (
            ALICE_LINE.format(u="bob", end="2027-04-15")
            in remote.file("nodes/gpu02.yaml").splitlines()
        )
        assert any("now runs until 2027-04-15" in s.text for s in bot.dms_to("alice"))

        # -- expiry: exactly REQ-1's users leave exactly its nodes; carol stays on gpu01 -----
        clock.set(datetime(2027, 4, 16, 9, tzinfo=UTC))
        start = len(bot.sent)
        await bot.app.observers.run("loan-expiry")
        await bot.app.background.idle()
        loan = await Loan.get(request_id=req.id)
        assert loan.state == "ended"
        gpu01 = remote.file("nodes/gpu01.yaml")
        assert "##r REQ-1 " not in gpu01 and "carol ##t From:2027-05-01" in gpu01
        assert "##r REQ-1 " not in remote.file("nodes/gpu02.yaml")
        assert remote.log()[0].startswith("REQ-1: loan ended")
        told = {s.dm_to for s in bot.sent[start:] if "ended on 2027-04-15" in s.text}
        assert told == {"alice", "sam"}
        assert smtp.subjects("alice@uni.example.org")[-1].endswith("has ended")
        # nothing left to do: a later run changes nothing
        before = remote.log()
        clock.advance(days=1)
        await bot.app.observers.run("loan-expiry")
        assert remote.log() == before
