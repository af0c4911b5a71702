"""Policy and edges: clear answers for bad input, dry-run expiry, the extension policy (maximum
length, management after a count), who may release, and the staff calendar from the CLI."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.storage.models import Request
from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans.models import Loan
from tests.loans.conftest import Remote, loan_overrides

BORROW = "borrow {what} from 2027-03-01 to 2027-03-31 project P experiment E users {users}"


async def lend(bot: TestBot, user: str, what: str, users: str | None = None) -> Request:
    await bot.say(user, BORROW.format(what=what, users=users or user))
    await bot.say(user, "yes")
    req = await Request.filter(type="node_loan").order_by("-id").first()
    assert req is not None
    await bot.say("sam", f"approve {req.ref}")
    return req


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))


async def test_bad_input_gets_a_clear_answer(
    tmp_path: Path, remote: Remote, clock: FakeClock
) -> None:
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        (out,) = await bot.say("alice", BORROW.format(what="3 tpu nodes", users="alice"))
        assert out.text == "I don't lend 'tpu' nodes. Kinds: arm, gpu."
        (out,) = await bot.say("alice", BORROW.format(what="9 gpu", users="alice"))
        assert out.text == "There are only 4 gpu nodes, so I can't lend 9."
        (out,) = await bot.say("alice", BORROW.format(what="cn[01-02]", users="alice"))
        assert "I don't lend cn01, cn02" in out.text
        (out,) = await bot.say("alice", "who has gpu99?")
        assert out.text == "gpu99 is not a node I lend."
        (out,) = await bot.say("alice", "free nodes from someday to never")
        assert "isn't a date I understand" in out.text
        (out,) = await bot.say("alice", "loan REQ-5")
        assert "There is no node loan REQ-5" in out.text
        (out,) = await bot.say(
            "alice", "borrow 1 arm from 2027-03-31 to 2027-03-01 project P experiment E users a"
        )
        assert out.text == "The loan would end (2027-03-01) before it starts (2027-03-31)."
        # a loan longer than the policy allows: refused by the command at once ...
        (out,) = await bot.say(
            "alice",
            "borrow 1 arm from 2027-03-01 to 2027-12-31 project P experiment E users alice",
        )
        assert out.text == "A loan can last at most 183 days; 2027-03-01 to 2027-12-31 is 306."
        # ... and, filed through the generic dialogue, at approval, with the reason
        await bot.grant("sam", "staff")
        await bot.say(
            "alice",
            "request loan nodes=arm01 start=2027-03-01 end=2027-12-31 project=P experiment=E "
            "users=alice",
        )
        await bot.say("alice", "yes")
        await bot.say("sam", "approve REQ-1")
        assert any("at most 183 days" in s.text for s in bot.dms_to("alice"))
        assert await Loan.all().count() == 0
        assert not any("sorry" in s.text.lower() for s in bot.sent)


async def test_expiry_is_a_dry_run_by_default(
    tmp_path: Path, remote: Remote, clock: FakeClock
) -> None:
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "gpu01")
        before = remote.file("nodes/gpu01.yaml")
        clock.set(datetime(2027, 4, 1, 9, tzinfo=UTC))
        await bot.app.observers.run("loan-expiry")
        await bot.app.background.idle()
        (note,) = [s for s in bot.dms_to("sam") if "Dry run" in s.text]
        assert "would now remove alice from gpu01" in note.text
        assert remote.file("nodes/gpu01.yaml") == before
        assert (await Loan.get(request_id=1)).state == "active"
        assert not any("ended" in s.text for s in bot.dms_to("alice"))


async def test_extension_policy(tmp_path: Path, remote: Remote, clock: FakeClock) -> None:
    overrides = loan_overrides(
        remote, tmp_path, policy={"max_days": 60, "extensions_before_management": 1}
    )
    bot = TestBot.create(tmp_path, overrides=overrides, clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await bot.grant("mary", "management")
        await lend(bot, "alice", "1 gpu")
        (out,) = await bot.say("alice", "extend loan REQ-1 until 2027-06-30")
        assert "at most 60 days" in out.text and "until 2027-04-29" in out.text
        (out,) = await bot.say("bob", "extend loan REQ-1 until 2027-04-10")
        assert "Only the borrower or staff" in out.text
        # the first extension: staff approve
        out = await bot.say("alice", "extend loan REQ-1 until 2027-04-10")
        assert "2027-04-10" in out[-1].text
        await bot.say("alice", "yes")
        await bot.say("sam", "approve REQ-2")
        assert str((await Loan.get(request_id=1)).end) == "2027-04-10"
        # the second: management must approve
        await bot.say("alice", "extend loan REQ-1 until 2027-04-20")
        await bot.say("alice", "yes")
        ext = await Request.get(id=3)
        assert ext.fields_data["approver"] == "management"
        (refused,) = await bot.say("sam", "approve REQ-3")
        assert "management decides now" in refused.text
        await bot.say("mary", "approve REQ-3")
        loan = await Loan.get(request_id=1)
        assert str(loan.end) == "2027-04-20" and loan.extensions == 2
        assert "To:2027-04-20 ##r REQ-1" in remote.file("nodes/gpu01.yaml")
        # an extension filed by hand claiming staff is enough is refused when it runs
        await bot.say("alice", "request loan_extension loan=REQ-1 until=2027-04-25")
        await bot.say("alice", "yes")
        await bot.say("sam", "approve REQ-4")
        assert str((await Loan.get(request_id=1)).end) == "2027-04-20"
        assert any("management has to approve" in s.text for s in bot.dms_to("alice"))


async def test_release_and_the_calendar(
    tmp_path: Path, remote: Remote, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "loans.sqlite3"
    bot = TestBot.create(
        tmp_path,
        database_url=f"sqlite://{db}",
        overrides=loan_overrides(remote, tmp_path),
        clock=clock,
    )
    async with bot:
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "2 gpu", "alice, bob")
        await lend(bot, "carol", "arm01")
        (out,) = await bot.say("bob", "release loan REQ-1")
        assert "Only the borrower or staff" in out.text
        (out,) = await bot.say("alice", "release loan REQ-1")
        assert out.text.startswith("REQ-1 is released: alice, bob removed from gpu01, gpu02")
        assert "REQ-1" not in remote.file("nodes/gpu01.yaml")
        assert remote.log()[0] == "REQ-1: released by alice"
        (out,) = await bot.say("alice", "release loan REQ-1")
        assert out.text == "REQ-1 has already ended."
        (out,) = await bot.say("sam", "all loans")
        assert out.text == (
            "Node loans by start date:\n• REQ-2: arm01, 2027-03-01 to 2027-03-31 — carol, P"
        )
        (out,) = await bot.say("carol", "all loans")
        assert "needs one of the roles" in out.text
    config = tmp_path / "cli.yml"
    config.write_text(f"database:\n  url: sqlite://{db}\n", encoding="utf-8")
    capsys.readouterr()
    assert (
        await asyncio.to_thread(cli_main, ["--config", str(config), "loans", "list", "--json"]) == 0
    )
    (row,) = json.loads(capsys.readouterr().out)
    assert row["request"] == "REQ-2" and row["nodes"] == ["arm01"] and row["users"] == ["carol"]
    args = ["--config", str(config), "loans", "list", "--csv", "--all"]
    assert await asyncio.to_thread(cli_main, args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["request"], r["state"], r["nodes"]) for r in rows] == [
        ("REQ-1", "ended", "gpu01,gpu02"),
        ("REQ-2", "active", "arm01"),
    ]
