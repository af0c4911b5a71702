"""Any text through the real message path gets a reply or a deliberate silence, never the
internal-error apology or a traceback, and no turn takes longer than a bound."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings

from bot.testing.harness import TestBot
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import user_text

TURN_BOUND = 2.0  # seconds, on the event loop's clock


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
