"""Any text through the real message path gets a reply or a deliberate silence, never the
internal-error apology or a traceback, and no turn takes longer than a bound."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bounds import REPLY
from bot.testing.harness import TestBot
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import bounds_text, user_text

TURN_BOUND = 2.0  # seconds, on the event loop's clock
#: longer than any field can hold (text fields 2,000 characters at most), so nothing in a reply
#: can be a restated answer: an echo of such a message is a bug
ECHO_CHECKED = 2_100


@pytest.fixture
def running_bot(tmp_path: Path) -> Iterator[tuple[asyncio.Runner, TestBot]]:
    with asyncio.Runner() as runner:
        bot = TestBot.create(tmp_path)
        runner.run(bot.__aenter__())
        try:
            yield runner, bot
        finally:
            runner.run(bot.__aexit__(None, None, None))


async def _turn(bot: TestBot, user: str, text: str) -> tuple[float, list[str]]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    out = await bot.say(user, text)
    return loop.time() - started, [s.text for s in out]


@settings(max_examples=examples(1600))
@given(text=user_text)
def test_any_message_is_answered_without_an_internal_error(  # type: ignore[no-untyped-def]
    running_bot, text: str
) -> None:
    runner, bot = running_bot
    took, replies = runner.run(_turn(bot, "fuzz", text))
    for reply in replies:
        assert "went wrong" not in reply and "Traceback" not in reply, (text[:80], reply)
    assert took < TURN_BOUND, (text[:80], took)


@pytest.fixture
def bot_with_request(
    running_bot: tuple[asyncio.Runner, TestBot],
) -> Iterator[tuple[asyncio.Runner, TestBot, Iterator[int]]]:
    """A bot where REQ-1 exists and its requester and a staff member can act on it."""
    runner, bot = running_bot

    async def setup() -> None:
        await bot.grant("sam", "staff")
        await bot.say("alice", "request quota")
        for answer in ("1TB", "/project/alice", "data", "yes"):
            await bot.say("alice", answer)

    runner.run(setup())
    yield runner, bot, itertools.count()


@settings(max_examples=examples(600))
@given(text=bounds_text, who=st.sampled_from(["new", "alice", "sam"]))
def test_absurd_values_long_ids_and_names_get_short_bounded_answers(  # type: ignore[no-untyped-def]
    bot_with_request, text: str, who: str
) -> None:
    """Issue #13 item 9: never an internal error, no reply past ``REPLY``, and a message longer
    than any field can hold is never echoed back (each example's first words are its own:
    a fresh user, or alice/sam with any pending question cancelled first)."""
    runner, bot, numbers = bot_with_request
    user = f"fuzz{next(numbers)}" if who == "new" else who
    if who != "new":
        runner.run(bot.say(user, "cancel"))
    took, replies = runner.run(_turn(bot, user, text))
    assert took < TURN_BOUND, (text[:80], took)
    for reply in replies:
        assert "went wrong" not in reply and "Traceback" not in reply, (text[:80], reply)
        assert len(reply) <= REPLY, (text[:80], len(reply))
        if len(text) > ECHO_CHECKED:
            assert text[-100:] not in reply and text[20:120] not in reply, (text[:80], reply)
