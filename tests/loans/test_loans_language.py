"""Plain language about loans, through the real model: the loan handlers take what is about
loans (when=), the requests skill keeps the rest, and changes are restated before they happen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans.models import Loan
from tests.loans.conftest import Remote, loan_overrides
from tests.loans.test_loans_policy import lend


async def test_plain_language_about_loans(
    tmp_path: Path, remote: Remote, nlu_model_dir: Path
) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    overrides = {
        **loan_overrides(remote, tmp_path),
        "nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)},
    }
    bot = TestBot.create(tmp_path, overrides=overrides, clock=clock, load_nlu=True)
    async with bot:
        await bot.grant("sam", "staff")
        await lend(bot, "alice", "gpu01", "alice, bob")

        (mine,) = await bot.say("alice", "show my loans")  # list_resources
        assert mine.text.startswith("Your node loans:") and "REQ-1: gpu01" in mine.text
        out = await bot.say("alice", "show my requests")  # still the requests skill's
        assert all("node loans" not in s.text for s in out)
        (who,) = await bot.say("dave", "who has gpu01?")
        assert "Loans of gpu01" in who.text and "REQ-1" in who.text
        (free,) = await bot.say("dave", "are any gpu nodes free on 2027-03-05?")
        assert free.text == "Free gpu nodes for all of 2027-03-05: gpu[02-04] (3)."

        # extending in plain words starts the extension dialogue with the date worked out
        out = await bot.say("alice", "please extend my loan REQ-1 by 2 weeks")
        assert "2027-04-14" in out[-1].text and "REQ-1" in out[-1].text
        await bot.say("alice", "cancel")

        # releasing in plain words is restated first; only a yes acts
        (ask,) = await bot.say("alice", "I am done with my loan REQ-1, release it")
        assert "Release node loan REQ-1: remove alice, bob from gpu01 now" in ask.text
        assert (await Loan.get(request_id=1)).state == "active"
        (done,) = await bot.click("alice", ask, "Yes")
        assert done.text.startswith("REQ-1 is released")
        assert (await Loan.get(request_id=1)).state == "ended"
        assert "##r REQ-1" not in remote.file("nodes/gpu01.yaml")

        # asking in plain words starts the loan dialogue with what the model read
        out = await bot.say("carol", "can I borrow 2 arm nodes for two weeks?")
        assert "Which project" in out[-1].text
        for answer in ("Porting", "Techlab", "carol"):
            out = await bot.say("carol", answer)
        summary = out[-1].text
        assert "2 arm" in summary and "2027-02-01" in summary and "2027-02-14" in summary
        out = await bot.say("dave", "reserve gpu02 from march 1 to april 30 for dave")
        assert "Which project" in out[-1].text
        (out,) = await bot.say("erin", "could I borrow 2 power nodes for a month?")
        assert out.text == "I don't lend 'power' nodes. Kinds: arm, gpu."
