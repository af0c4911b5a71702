"""A skill's scope owns what its setup registered: all of it is live while the skill is loaded
and gone once the skill is removed (or replaced), with nothing left in the application."""

from bot.testing import TestBot

SKILL = """
from datetime import timedelta
from bot.actions import ActionResult
from bot.skill import Skill
from tests.service_keys import WIDGETS

skill = Skill("owned", "registers one of everything")


class Idle:
    name = "owned-idle"
    every = timedelta(hours=1)

    async def check(self, app, now):
        return []


async def make_widget(run):
    return ActionResult(True, "made")


@skill.setup
def setup(scope):
    scope.provide(WIDGETS, ["{version}"])
    scope.add_outbound_filter(lambda text: text.replace("pong", "PONG-{version}"))
    scope.add_observer(Idle())
    scope.add_action("make_widget", make_widget)
"""


async def test_everything_a_setup_registered_goes_with_its_skill(tmp_path, skill_pkg):
    from tests.service_keys import WIDGETS

    skill_pkg.write("owned", SKILL.format(version="v1"))
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        await bot.grant("root", "admin")
        app = bot.app
        assert app.services[WIDGETS] == ["v1"]
        assert [s.text for s in await bot.say("alice", "ping")] == ["PONG-v1"]
        assert "owned-idle" in app.observers.names
        assert app.scheduler is not None and app.scheduler.next_run("observer:owned-idle")
        assert app.actions.get("make_widget") is not None

        # replaced: one filter, v2's (v1's was undone before v2 was set up)
        skill_pkg.write("owned", SKILL.format(version="v2"))
        await bot.say("root", "reload skills")
        assert app.services[WIDGETS] == ["v2"]
        assert [s.text for s in await bot.say("alice", "ping")] == ["PONG-v2"]
        assert app.observers.names.count("owned-idle") == 1

        # removed: nothing of it is left
        (skill_pkg.path / "owned.py").unlink()
        await bot.say("root", "reload skills")
        assert WIDGETS not in app.services
        assert [s.text for s in await bot.say("alice", "ping")] == ["pong"]
        assert "owned-idle" not in app.observers.names
        assert app.scheduler.next_run("observer:owned-idle") is None
        assert app.actions.get("make_widget") is None
        assert app.skills.scope_of("owned") is None
