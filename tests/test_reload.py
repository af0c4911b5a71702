"""`reload skills`: re-import without dropping connections or state; broken skills roll back."""

import pytest

from bot.testing import TestBot
from tests.service_keys import HOOK_LOG

V1 = '''
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
'''

HELPER = '''
VERSION = "helper v1"
'''

USES_HELPER = '''
from bot.skill import Skill
from {pkg}._shared import VERSION
skill = Skill("helped", "uses a helper module")

@skill.command(r"version")
async def version(ctx):
    await ctx.reply(VERSION)
'''


@pytest.fixture
async def bot(tmp_path, skill_pkg):
    skill_pkg.write("greeter", V1)
    async with TestBot.create(tmp_path, overrides={
            "skills.packages": ["skills", skill_pkg.name]}) as bot:
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
    skill_pkg.write("dup", '''
from bot.skill import Skill
skill = Skill("dup", "")
@skill.intent("help")
async def h(ctx):
    await ctx.reply("dup help")
''')
    (report,) = await bot.say("root", "reload skills")
    assert "(registry) failed: intent 'help' is claimed by both" in report.text
    assert "Here's what I can do" in (await bot.say("alice", "help"))[0].text
    assert (await bot.say("alice", "hi"))[0].text == "hello v1"


async def test_non_admins_are_refused_politely(bot):
    (reply,) = await bot.say("alice", "reload skills")
    assert reply.text.startswith("Sorry, `reload skills` needs the admin role")
    assert bot.app.stats.reloads == 0


async def test_setup_and_teardown_hooks_run_on_reload(bot, skill_pkg):
    skill_pkg.write("hooked", '''
from bot.skill import Skill
from tests.service_keys import HOOK_LOG
skill = Skill("hooked", "")
@skill.setup
async def setup(app):
    if HOOK_LOG not in app.services:
        app.services[HOOK_LOG] = []
    app.services[HOOK_LOG].append("setup")
@skill.teardown
def teardown(app):
    app.services[HOOK_LOG].append("teardown")
''')
    await bot.say("root", "reload skills")
    await bot.say("root", "reload skills")
    assert bot.app.services[HOOK_LOG] == ["setup", "setup", "teardown"]
