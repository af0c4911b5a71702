"""No message can freeze the bot: while one user sends platform-maximum messages of adversarial
shapes, another user's ``ping`` is answered within a second (issue #13, point 1).

The bound is the behaviour under test: a pattern that backtracks quadratically, or a parse that
runs on the event loop, holds every conversation for tens of seconds on such a message. Latency
is measured with the event loop's clock from the moment the ping is handed to the bot.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from bot.adapters.memory import dm_channel
from bot.events import Message
from bot.testing.harness import TestBot

SLACK_MAX = 40_000
BOUND = 1.0  # seconds a ping may wait while someone else's message is being handled


def _fill(prefix: str, unit: str, suffix: str = "") -> str:
    body = unit * ((SLACK_MAX - len(prefix) - len(suffix)) // len(unit))
    return prefix + body + suffix


def _random_unicode(seed: int) -> str:
    rng = random.Random(seed)
    chars = [chr(rng.randrange(1, 0x2FFFF)) for _ in range(SLACK_MAX)]
    return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)


#: shapes the outside test used, and their cousins; each is as long as Slack allows
SHAPES: dict[str, str] = {
    "spaces": "a" + " " * (SLACK_MAX - 2) + "b",
    "request a a a": _fill("request ", "a "),
    "request quota a a a": _fill("request quota ", "a "),
    "request quota aaaa": _fill("request quota ", "a"),  # key=value scan over one long word
    "edit x=x=": _fill("edit REQ-1 ", "x="),
    "edit set x=": _fill("edit REQ-1 set ", "x= "),
    "comment spaces": _fill("comment REQ-1 ", " ,", "x"),
    "approve spaces": _fill("approve REQ-1 ", " -", "x"),
    "search": _fill("search requests ", 'a:"'),
    "search terms": _fill("search requests ", "size>=1 "),
    "stats": _fill("request stats for ", "the last "),
    "help": _fill("help ", "a "),
    "store my": _fill("store my ", "a "),
    "deep brackets": "[" * (SLACK_MAX // 2) + "]" * (SLACK_MAX // 2),
    "hostlist": _fill("drain ", "c["),
    "hostlist ranges": _fill("drain c[", "1-2,"),
    "numbers": _fill("I need ", "1,"),
    "sizes": _fill("I need ", "1.5 TB "),
    "dates": _fill("until ", "next monday "),
    "durations": _fill("for ", "1 day and "),
    "one long word": "x" * SLACK_MAX,
    "emoji": _fill("", "😀🚀 "),
    "rtl": _fill("request ", "\u202eשלום עולם "),
    "random unicode": _random_unicode(13),
}

#: answers to a pending question (a request draft asks for the size)
ANSWERS: dict[str, str] = {
    "spaces": "a" + " " * (SLACK_MAX - 2) + "b",
    "spaces then to": "size" + " " * (SLACK_MAX - 8) + "to 1",
    "tabs": "a" + "\t " * (SLACK_MAX // 2 - 1) + "b",
    "named spaces": _fill("make the ", "size ", "= 1"),
    "corrections": _fill("", "actually "),
    "words": _fill("", "a "),
    "equals": _fill("", "a="),
}


def _message(user: str, text: str, n: int) -> Message:
    return Message("test", user, user, dm_channel(user), text, direct=True, id=f"{user}-{n}")


async def _ping_while(bot: TestBot, turn: asyncio.Task[None], n: int) -> list[float]:
    """Ping as alice until ``turn`` is over; the latency of each ping."""
    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    while not turn.done():
        started = loop.time()
        before = len(bot.sent)
        await bot.app.process(_message("alice", "ping", n * 1000 + len(latencies)))
        latencies.append(loop.time() - started)
        assert [s.text for s in bot.sent[before:] if s.channel == dm_channel("alice")] == ["pong"]
    await turn
    return latencies


async def _check(bot: TestBot, user: str, shapes: dict[str, str]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for n, (name, text) in enumerate(shapes.items()):
        assert len(text) <= SLACK_MAX
        before = len(bot.sent)
        turn = asyncio.create_task(bot.app.process(_message(user, text, n)))
        worst[name] = max(await _ping_while(bot, turn, n))
        replies = [s.text for s in bot.sent[before:] if s.channel == dm_channel(user)]
        assert not any("went wrong" in r for r in replies), (name, replies)
    return worst


async def test_pings_are_answered_while_someone_sends_huge_adversarial_commands(
    tmp_path: Path, nlu_model_dir: Path
) -> None:
    overrides = {"nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)}}
    async with TestBot.create(tmp_path, load_nlu=True, overrides=overrides) as bot:
        await bot.say("mallory", "hello there")  # the model is loaded before we measure
        worst = await _check(bot, "mallory", SHAPES)
    slow = {name: round(t, 2) for name, t in worst.items() if t >= BOUND}
    assert not slow, f"a ping waited more than {BOUND}s while these were handled: {slow}"


async def test_pings_are_answered_while_someone_answers_a_question_with_huge_text(
    tmp_path: Path,
) -> None:
    async with TestBot.create(tmp_path) as bot:
        out = await bot.say("mallet", "request quota")
        assert "how much additional space" in out[-1].text.lower()
        worst = await _check(bot, "mallet", ANSWERS)
    slow = {name: round(t, 2) for name, t in worst.items() if t >= BOUND}
    assert not slow, f"a ping waited more than {BOUND}s while these were handled: {slow}"


#: edits of an existing request (``edit`` looks the request up before reading the changes)
EDITS: dict[str, str] = {
    "edit aaaa": _fill("edit REQ-1 ", "a"),
    "edit a a a": _fill("edit REQ-1 ", "a "),
    "edit key then spaces": _fill("edit REQ-1 size", " ", "x"),
    "edit words to": _fill("edit REQ-1 ", "size ", "to 1TB"),
}


async def test_pings_are_answered_while_someone_edits_a_request_with_huge_text(
    tmp_path: Path,
) -> None:
    async with TestBot.create(tmp_path) as bot:
        for answer in ("request quota", "1TB", "/project/m", "data", "yes"):
            await bot.say("mallory", answer)
        worst = await _check(bot, "mallory", EDITS)
    slow = {name: round(t, 2) for name, t in worst.items() if t >= BOUND}
    assert not slow, f"a ping waited more than {BOUND}s while these were handled: {slow}"
