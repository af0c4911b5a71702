"""Several skills may share an intent: "list my vms" and "show my requests" are both
``list_resources``. A narrower handler (``when=``) takes the messages it says it takes; the one
default handler keeps the rest; two defaults are still a conflict."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing import TestBot
from tests.conftest import SkillPackage

VMS = """
from bot.skill import Skill
skill = Skill("vmlist", "")

@skill.intent("list_resources", when=lambda ctx: "vm" in ctx.text.lower(),
              help="list my vms — your virtual machines")
async def list_vms(ctx):
    await ctx.reply("your VMs: none")
"""


@pytest.fixture
async def bot(tmp_path: Path, nlu_model_dir: Path, skill_pkg: SkillPackage):
    skill_pkg.write("vmlist", VMS)
    overrides = {
        "skills.packages": ["skills", skill_pkg.name],
        "skills.disabled": ["vms"],  # the real VM skill would take "list my vms" first
        "nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)},
    }
    async with TestBot.create(tmp_path, overrides=overrides, load_nlu=True) as bot:
        await bot.grant("root", "admin")
        yield bot


async def test_the_narrower_handler_takes_its_messages_and_the_default_the_rest(
    bot: TestBot,
) -> None:
    (vms,) = await bot.say("alice", "list my vms")
    assert vms.text == "your VMs: none"
    out = await bot.say("alice", "show my requests")
    assert all("your VMs" not in s.text for s in out)
    assert any("request" in s.text.lower() for s in out), [s.text for s in out]


async def test_help_lists_the_narrower_handler_too(bot: TestBot) -> None:
    out = await bot.say("alice", "help")
    assert any("list my vms" in s.text for s in out)


async def test_a_second_default_for_an_intent_is_still_a_conflict(
    bot: TestBot, skill_pkg: SkillPackage
) -> None:
    skill_pkg.write(
        "dup",
        VMS.replace('"vmlist"', '"dup"')
        .replace(', when=lambda ctx: "vm" in ctx.text.lower()', "")
        .replace("list my vms", "list all"),
    )
    (report,) = await bot.say("root", "reload skills")
    assert "intent 'list_resources' is claimed by both" in report.text
    assert (await bot.say("alice", "list my vms"))[0].text == "your VMs: none"
