"""Nothing changes because the model guessed (issue #12 item 1): plain-language decisions are
restated with Yes/No and carried out only on the same person's yes; questions, hedges,
negations and undo phrasing never act; exact commands act at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage.models import Request
from bot.testing import TestBot
from tests.workflow.test_wf_duties import file_quota


@pytest.fixture
async def bot(tmp_path: Path, nlu_model_dir: Path):
    overrides = {"nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)}}
    async with TestBot.create(tmp_path, overrides=overrides, load_nlu=True) as bot:
        await bot.grant("sam", "staff")
        yield bot


async def _state(ref: str) -> str:
    return (await Request.get(id=int(ref.split("-")[1]))).state


@pytest.mark.parametrize(
    "said",
    [
        "should I approve {ref}?",
        "let me think about {ref}",
        "don't approve {ref} yet, waiting on the PI",
        "undo the approval of {ref}",
        "not sure about {ref}, maybe later",
    ],
)
async def test_questions_hedges_negations_and_undo_never_act(bot: TestBot, said: str) -> None:
    req = await file_quota(bot, "alice", "2TB")
    out = await bot.say("sam", said.format(ref=req.ref))
    assert await _state(req.ref) == "submitted", [s.text for s in out]
    assert not any("is now" in s.text for s in out)


async def test_an_inferred_approval_is_restated_and_needs_the_same_persons_yes(
    bot: TestBot,
) -> None:
    req = await file_quota(bot, "alice", "2TB")
    (ask,) = await bot.say("sam", f"looks good to me, please approve {req.ref}")
    assert ask.text == (f"Approve {req.ref} — storage quota, 2 TB, /project/astro for alice?")
    assert ask.labels == ["Yes", "No"]
    assert await _state(req.ref) == "submitted"
    await bot.say("bob", "yes")  # someone else's yes is not sam's
    assert await _state(req.ref) == "submitted"
    out = await bot.click("sam", ask, "Yes")
    assert out[0].text.startswith(f"{req.ref} is now approved")
    assert await _state(req.ref) == "approved"


async def test_a_typed_no_leaves_it_and_an_exact_command_acts_at_once(bot: TestBot) -> None:
    req = await file_quota(bot, "alice", "2TB")
    (ask,) = await bot.say("sam", f"please deny {req.ref}, the disk is full")
    assert ask.text.startswith(f"Deny {req.ref} — storage quota, 2 TB"), ask.text
    assert ask.labels == ["Yes", "No"]
    (no,) = await bot.say("sam", "no")
    assert no.text == "OK, I left it as it was. Nothing changed."
    assert await _state(req.ref) == "submitted"
    out = await bot.say("sam", f"approve {req.ref}")  # the exact command form
    assert out[0].text.startswith(f"{req.ref} is now approved")
