"""bot/heap.py: a process that settles its heap still frees the code a skill reload replaced."""

import gc
import sys
import weakref
from collections.abc import Iterator

import pytest

from bot import heap
from bot.testing import TestBot

GREETER = """
from bot.skill import Skill
skill = Skill("greeter", "says hi")

@skill.command(r"hi")
async def hi(ctx):
    await ctx.reply("hello {version}")
"""


@pytest.fixture
def settling() -> Iterator[None]:
    """The test settles this (shared) process's heap; afterwards it is as pytest left it."""
    assert not heap.settled()
    yield
    gc.unfreeze()


async def test_reload_in_a_settled_process_lets_the_replaced_handlers_go(
    tmp_path, skill_pkg, settling
):
    skill_pkg.write("greeter", GREETER.format(version="v1"))
    overrides = {"skills.packages": ["skills", skill_pkg.name]}
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        await bot.grant("root", "admin")
        heap.settle()  # as `quartermaster run` does once the bot is up
        first = weakref.ref(sys.modules[f"{skill_pkg.name}.greeter"].hi)
        skill_pkg.write("greeter", GREETER.format(version="v2"))
        await bot.say("root", "reload skills")  # v1 is kept for a rollback until the next load
        skill_pkg.write("greeter", GREETER.format(version="v3"))
        await bot.say("root", "reload skills")
        gc.collect()
        assert first() is None, "the first version's handler is still alive (frozen?)"
        assert heap.settled()
        assert (await bot.say("alice", "hi"))[0].text == "hello v3"
