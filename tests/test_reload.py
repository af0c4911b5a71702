"""`reload skills`: re-import without dropping connections or state; broken skills roll back."""

import pytest

from bot.testing import TestBot

V1 = """
from bot.skill import Skill
skill = Skill("greeter", "says hi")

@skill.command(r"hi", help="hi — greet")
async def hi(ctx):
    await ctx.reply("hello v1")

@skill.command(r"ask")
async def ask(ctx):
    await ctx.expect("greeter.answer")
    await ctx.reply("question?")

@skill.followup("greeter.answer")
async def answer(ctx):
    await ctx.done()
    await ctx.reply("answer v1: " + ctx.message.text)
"""

HELPER = """
VERSION = "helper v1"
"""

USES_HELPER = """
from bot.skill import Skill
from {pkg}._shared import VERSION
skill = Skill("helped", "uses a helper module")

@skill.command(r"version")
async def version(ctx):
    await ctx.reply(VERSION)
"""


@pytest.fixture
async def bot(tmp_path, skill_pkg):
    skill_pkg.write("greeter", V1)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        await bot.grant("root", "admin")
        yield bot


async def test_reload_picks_up_edited_code(bot, skill_pkg):
    assert (await bot.say("alice", "hi"))[0].text == "hello v1"
    skill_pkg.write("greeter", V1.replace("hello v1", "hello v2"))
    (report,) = await bot.say("root", "reload skills")
    assert report.text.startswith("Reloaded ")
    assert "greeter" in report.text
    assert (await bot.say("alice", "hi"))[0].text == "hello v2"
    assert bot.app.stats.reloads == 1


async def test_broken_skill_keeps_previous_version_and_admin_is_told_why(bot, skill_pkg):
    skill_pkg.write("greeter", V1.replace("async def hi(ctx):", "async def hi(ctx)"))
    (report,) = await bot.say("root", "reload skills")
    assert f"✗ {skill_pkg.name}.greeter failed: SyntaxError" in report.text
    assert "greeter.py, line" in report.text
    assert "The previous version keeps running." in report.text
    assert (await bot.say("alice", "hi"))[0].text == "hello v1"
    # other skills still reloaded fine
    assert "core" in report.text
    # fixing it and reloading again brings the new version in
    skill_pkg.write("greeter", V1.replace("hello v1", "hello v3"))
    await bot.say("root", "reload skills")
    assert (await bot.say("alice", "hi"))[0].text == "hello v3"


async def test_import_time_error_names_exception_and_line(bot, skill_pkg):
    skill_pkg.write("greeter", V1 + "\nundefined_name + 1\n")
    (report,) = await bot.say("root", "reload skills")
    assert "NameError: name 'undefined_name' is not defined (greeter.py, line" in report.text
    assert (await bot.say("alice", "hi"))[0].text == "hello v1"


async def test_new_broken_skill_is_reported_as_not_loaded(bot, skill_pkg):
    skill_pkg.write("fresh", "raise RuntimeError('not ready')\n")
    (report,) = await bot.say("root", "reload skills")
    assert "fresh failed: RuntimeError: not ready" in report.text
    assert "It is not loaded." in report.text


async def test_conversation_state_survives_reload(bot, skill_pkg):
    (q,) = await bot.say("alice", "ask")
    assert q.text == "question?"
    skill_pkg.write("greeter", V1.replace("answer v1", "answer v2"))
    await bot.say("root", "reload skills")
    (a,) = await bot.say("alice", "forty-two")
    assert a.text == "answer v2: forty-two"


async def test_helper_submodules_are_reimported_too(bot, skill_pkg):
    skill_pkg.write("_shared", HELPER)
    skill_pkg.write("helped", USES_HELPER.format(pkg=skill_pkg.name))
    await bot.say("root", "reload skills")
    assert (await bot.say("alice", "version"))[0].text == "helper v1"
    skill_pkg.write("_shared", HELPER.replace("v1", "v2"))
    await bot.say("root", "reload skills")
    assert (await bot.say("alice", "version"))[0].text == "helper v2"


async def test_removed_skill_disappears(bot, skill_pkg):
    (skill_pkg.path / "greeter.py").unlink()
    (report,) = await bot.say("root", "reload skills")
    assert f"Removed: {skill_pkg.name}.greeter." in report.text
    assert "didn't understand" in (await bot.say("alice", "hi"))[0].text


async def test_conflicting_intents_roll_back_everything(bot, skill_pkg):
    skill_pkg.write(
        "dup",
        """
from bot.skill import Skill
skill = Skill("dup", "")
@skill.intent("help")
async def h(ctx):
    await ctx.reply("dup help")
""",
    )
    (report,) = await bot.say("root", "reload skills")
    assert "(registry) failed: intent 'help' is claimed by both" in report.text
    assert "Here's what I can do" in (await bot.say("alice", "help"))[0].text
    assert (await bot.say("alice", "hi"))[0].text == "hello v1"


async def test_non_admins_are_refused_politely(bot):
    (reply,) = await bot.say("alice", "reload skills")
    assert reply.text.startswith("Sorry, `reload skills` needs the admin role")
    assert bot.app.stats.reloads == 0


HOOKED = """
from pathlib import Path
from bot.skill import Skill
skill = Skill("hooked", "")
LOG = Path({log!r})

def note(what):
    with LOG.open("a") as f:
        f.write(what + "\\n")

async def tagged(ctx, call_next):
    await call_next(ctx)
    if ctx.replies:
        await ctx.reply("[{version}]")

@skill.setup
async def setup(scope):
    note("setup {version}")
    scope.use(tagged)
    scope.on_close(lambda: note("closed {version}"))
    {extra}

@skill.teardown
def teardown(scope):
    note("teardown {version}")

@skill.command(r"which")
async def which(ctx):
    await ctx.reply("handler {version}")
"""


def _hooked(log, version: str, extra: str = "pass") -> str:
    return HOOKED.format(log=str(log), version=version, extra=extra)


def _log(path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_setup_and_teardown_hooks_run_in_order_on_reload(bot, skill_pkg, tmp_path):
    log = tmp_path / "hook.log"
    skill_pkg.write("hooked", _hooked(log, "v1"))
    await bot.say("root", "reload skills")
    skill_pkg.write("hooked", _hooked(log, "v2"))
    await bot.say("root", "reload skills")
    # as discord.py: the old version is torn down (hook, then scope) before the new one's setup
    assert _log(log) == ["setup v1", "teardown v1", "closed v1", "setup v2"]
    assert [s.text for s in await bot.say("alice", "which")] == ["handler v2", "[v2]"]


async def test_a_failing_setup_restores_the_previous_version_and_sets_it_up_again(
    bot, skill_pkg, tmp_path
):
    log = tmp_path / "hook.log"
    skill_pkg.write("hooked", _hooked(log, "v1"))
    await bot.say("root", "reload skills")
    skill_pkg.write("hooked", _hooked(log, "v2", extra="raise RuntimeError('no backend')"))
    report = (await bot.say("root", "reload skills"))[0]
    assert (
        f"✗ {skill_pkg.name}.hooked failed: setup failed: RuntimeError: no backend" in report.text
    )
    assert "The previous version keeps running." in report.text
    # v2's middleware was undone with its scope; v1 is set up again and answers alone
    assert _log(log) == [
        "setup v1",
        "teardown v1",
        "closed v1",
        "setup v2",
        "closed v2",
        "setup v1",
    ]
    assert [s.text for s in await bot.say("alice", "which")] == ["handler v1", "[v1]"]
    assert bot.app.registry.skills["hooked"].on_setup.__module__ == f"{skill_pkg.name}.hooked"
    # fixing it brings v3 in cleanly: one middleware, v3's
    skill_pkg.write("hooked", _hooked(log, "v3"))
    report = (await bot.say("root", "reload skills"))[0]
    assert "failed" not in report.text
    assert [s.text for s in await bot.say("alice", "which")] == ["handler v3", "[v3]"]


async def test_a_new_skill_whose_setup_fails_is_not_loaded_and_leaves_nothing(
    bot, skill_pkg, tmp_path
):
    log = tmp_path / "hook.log"
    skill_pkg.write("hooked", _hooked(log, "v1", extra="raise RuntimeError('no backend')"))
    report = (await bot.say("root", "reload skills"))[0]
    assert "hooked failed: setup failed: RuntimeError: no backend" in report.text
    assert "It is not loaded." in report.text
    assert "hooked" not in bot.app.registry.skills
    assert _log(log) == ["setup v1", "closed v1"]
    (reply,) = await bot.say("alice", "which")  # no handler, no stray middleware
    assert "didn't understand" in reply.text


async def test_removing_a_skill_undoes_what_its_setup_registered(bot, skill_pkg, tmp_path):
    log = tmp_path / "hook.log"
    skill_pkg.write("hooked", _hooked(log, "v1"))
    await bot.say("root", "reload skills")
    assert len(await bot.say("alice", "ping")) == 2  # pong + the middleware's tag
    (skill_pkg.path / "hooked.py").unlink()
    await bot.say("root", "reload skills")
    assert [s.text for s in await bot.say("alice", "ping")] == ["pong"]
    assert _log(log)[-2:] == ["teardown v1", "closed v1"]
