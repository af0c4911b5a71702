"""Composable checks through the real message path: refusals say what is needed, help shows
only what passes, and a context joins only its own user's conversation."""

from __future__ import annotations

from typing import Any

import pytest

from bot.context import Context
from bot.conversations import ConversationKey
from bot.events import Message
from bot.testing import TestBot

GUARDED_SKILL = """
from bot.checks import all_of, any_of, dm_only, has_role, in_group
from bot.skill import Skill

skill = Skill("guarded", "test checks")

@skill.command(r"whisper", checks=[dm_only()], help="whisper — only in a DM")
async def whisper(ctx):
    await ctx.reply("psst")

@skill.command(r"either", checks=[any_of(has_role("staff"), in_group("file_for_others"))],
               help="either — staff or helpdesk")
async def either(ctx):
    await ctx.reply("either ok")

@skill.command(r"both", checks=[all_of(has_role("staff"), dm_only())], help="both — staff, in a DM")
async def both(ctx):
    await ctx.reply("both ok")
"""


@pytest.fixture
async def bot(tmp_path: Any, skill_pkg: Any) -> Any:
    skill_pkg.write("guarded", GUARDED_SKILL)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        yield bot


async def test_dm_only_refuses_in_a_channel_and_says_why(bot: TestBot) -> None:
    out = await bot.say("alice", "whisper", channel="general")
    assert out[-1].dm_to == "alice"
    assert out[-1].text.startswith("Sorry, `whisper` works only in a direct message with me")
    assert (await bot.say("alice", "whisper"))[-1].text == "psst"


async def test_any_of_and_all_of_combine_and_describe(bot: TestBot) -> None:
    out = await bot.say("alice", "either")
    assert "needs the staff role or the helpdesk role" in out[-1].text
    await bot.grant("hank", "helpdesk")
    assert (await bot.say("hank", "either"))[-1].text == "either ok"
    await bot.grant("sam", "staff")
    out = await bot.say("sam", "both", channel="general")
    assert "works only in a direct message with me" in out[-1].text
    assert (await bot.say("sam", "both"))[-1].text == "both ok"


async def test_help_evaluates_the_checks_in_dry_run(bot: TestBot) -> None:
    (dm,) = await bot.say("alice", "help")
    assert "`whisper`" in dm.text and "`either`" not in dm.text and "`both`" not in dm.text
    out = await bot.say("alice", "help", channel="general")
    assert "`whisper`" not in out[-1].text  # not usable here
    await bot.grant("sam", "staff")
    (staff,) = await bot.say("sam", "help")
    assert "`either`" in staff.text and "`both`" in staff.text


async def test_a_context_joins_only_its_own_users_conversation(bot: TestBot) -> None:
    assert bot.adapter is not None
    ctx = Context(bot.app, bot.adapter, Message("test", "alice", "alice", "general", "hi"))
    with pytest.raises(ValueError):
        ctx.retarget(ConversationKey("test", "general", None, "bob"))
    ctx.retarget(ConversationKey("test", "general", "t9", "alice"))
    assert ctx.conversation_key == ConversationKey("test", "general", "t9", "alice")
