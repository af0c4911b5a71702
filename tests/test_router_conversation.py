"""Conversation first: a pending follow-up is tried before commands, with cancel and help as
fallbacks that always win; ``accepts`` lets a follow-up pass on what is not its answer; keys
are typed; overlapping command patterns are caught when the registry is built."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from bot.conversations import ConversationKey
from bot.events import Message
from bot.registry import Registry, RegistryConflict
from bot.skill import Skill
from bot.storage.models import Conversation, Request
from bot.testing import TestBot

CHAT_SKILL = """
from bot.skill import Skill

skill = Skill("chatty", "test conversations")

@skill.command(r"note (?P<text>.+)", help="note TEXT — keep a note")
async def note(ctx):
    await ctx.reply("noted " + ctx.match.group("text"))

@skill.command(r"ask name")
async def ask(ctx):
    await ctx.expect("chatty.name")
    await ctx.reply("What's your name?")

@skill.followup("chatty.name")
async def name(ctx):
    await ctx.done()
    await ctx.reply("Nice to meet you, " + ctx.text)

@skill.command(r"ask number")
async def ask_number(ctx):
    await ctx.expect("chatty.number")
    await ctx.reply("Which number?")

@skill.followup("chatty.number", accepts=lambda ctx: ctx.text.strip().isdigit())
async def number(ctx):
    await ctx.done()
    await ctx.reply("number " + ctx.text)
"""


@pytest.fixture
async def bot(tmp_path: Any, skill_pkg: Any) -> Any:
    skill_pkg.write("chatty", CHAT_SKILL)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        yield bot


async def test_the_pending_follow_up_goes_before_commands(bot: TestBot) -> None:
    await bot.say("alice", "ask name")
    (reply,) = await bot.say("alice", "note to self")  # a command, but the answer
    assert reply.text == "Nice to meet you, note to self"
    (reply,) = await bot.say("alice", "note to self")  # no conversation: the command
    assert reply.text == "noted to self"


async def test_cancel_and_help_win_over_a_follow_up_that_takes_everything(bot: TestBot) -> None:
    await bot.say("alice", "ask name")
    (reply,) = await bot.say("alice", "help")
    assert reply.text.startswith("Here's what I can do for you")
    assert bot.app.conversations.peek(ConversationKey("test", "dm:alice", None, "alice"))
    (reply,) = await bot.say("alice", "never mind")
    assert reply.text == "OK, cancelled."  # this test skill says nothing more
    (reply,) = await bot.say("alice", "Bob")
    assert "didn't understand" in reply.text


async def test_a_message_the_follow_up_does_not_accept_goes_on_to_commands(bot: TestBot) -> None:
    await bot.say("alice", "ask number")
    (reply,) = await bot.say("alice", "note milk")
    assert reply.text == "noted milk"  # declined: routed as a command
    (reply,) = await bot.say("alice", "42")
    assert reply.text == "number 42"  # the question was still open


async def test_keys_are_typed_and_stored_in_the_old_string_format(bot: TestBot) -> None:
    msg = Message("test", "alice", "alice", "general", "hi", thread="t1")
    key = msg.conversation_key
    assert key == ConversationKey("test", "general", "t1", "alice")
    assert str(key) == "test:general:t1:alice"
    await bot.say("alice", "ask name", channel="general", thread="t1")
    row = await Conversation.get()
    assert row.key == "test:general:t1:alice"  # rows stay compatible
    assert bot.app.conversations.peek("test:general:t1:alice") == bot.app.conversations.peek(key)
    with pytest.raises(FrozenInstanceError):
        key.user = "mallory"  # type: ignore[misc]              # frozen


async def test_a_click_in_the_reply_thread_answers_the_draft_of_the_channel_message(
    bot: TestBot,
) -> None:
    await bot.say("bob", "request software", channel="general")
    out = await bot.say("bob", "gromacs", channel="general")
    assert out[-1].labels == ["grace", "aces", "terra"] and out[-1].thread is not None
    refused = await bot.click("carol", out[-1], "aces")  # someone else's question
    assert (
        refused[-1].dm_to == "carol" and "isn't waiting for an answer from you" in refused[-1].text
    )
    out = await bot.click("bob", out[-1], "aces")
    assert "Cluster: aces" in out[-1].text and out[-1].labels == ["File it", "Discard"]
    out = await bot.click("bob", out[-1], "Discard")
    assert out[-1].text == "OK, I've discarded it. Nothing was filed."
    assert await Request.all().count() == 0


async def test_a_command_is_not_taken_as_an_answer_unless_it_fits(bot: TestBot) -> None:
    await bot.say("alice", "request quota")  # asks for the size first
    out = await bot.say("alice", "ping")
    assert out[-1].text == "pong"  # a command, not a size
    out = await bot.say("alice", "8TB")
    assert "storage area" in out[-1].text  # the draft went on


def _skill(name: str, *commands: tuple[str, tuple[str, ...]]) -> Skill:
    skill = Skill(name)
    for pattern, examples in commands:

        async def handler(ctx: Any) -> None: ...

        handler.__name__ = re.sub(r"\W", "_", pattern)[:12]
        skill.command(pattern, examples=examples)(handler)
    return skill


def test_an_example_taken_by_an_earlier_command_is_a_conflict_naming_both() -> None:
    first = _skill("first", (r"show (?P<what>.+)", ("show nodes",)))
    second = _skill("second", (r"show vms", ("show vms",)))
    with pytest.raises(RegistryConflict) as caught:
        Registry.build([first, second])
    assert "'show vms'" in str(caught.value)
    assert "second.show_vms" in str(caught.value) and "first.show___P_wh" in str(caught.value)
    Registry.build([second, first])  # declared the other way: fine


def test_an_example_its_own_pattern_does_not_match_is_a_conflict() -> None:
    with pytest.raises(RegistryConflict, match="does not match its own pattern"):
        Registry.build([_skill("typo", (r"list vms", ("list the vms",)))])
