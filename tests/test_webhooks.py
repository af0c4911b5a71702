"""Skills' webhooks: served at /hooks/<skill>/<name> while the server runs, changed by reloads."""

import aiohttp

from bot.testing import TestBot

HOOK = """
from aiohttp import web
from bot.skill import Skill
skill = Skill("alerts", "takes alerts from monitoring")

async def alert(request):
    body = await request.json()
    return web.json_response({{"version": "{version}", "host": body["host"]}})

@skill.setup
def setup(scope):
    path = scope.add_webhook("alert", alert, methods=("POST",))
    assert path == "/hooks/alerts/alert"
"""


async def test_a_skill_webhook_is_served_and_follows_reloads(tmp_path, skill_pkg):
    skill_pkg.write("alerts", HOOK.format(version="v1"))
    overrides = {
        "http.enabled": True,
        "http.port": 0,
        "skills.packages": ["skills", skill_pkg.name],
    }
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        await bot.grant("root", "admin")
        url = f"http://127.0.0.1:{bot.app.http.port}/hooks/alerts/alert"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"host": "c001"}) as resp:
                assert resp.status == 200
                assert await resp.json() == {"version": "v1", "host": "c001"}
            async with session.get(url) as resp:
                assert resp.status == 405
            async with session.post(url.replace("/alert", "/nope"), json={}) as resp:
                assert resp.status == 404

            # the server keeps running; a reload swaps the handler in place
            skill_pkg.write("alerts", HOOK.format(version="v2"))
            await bot.say("root", "reload skills")
            async with session.post(url, json={"host": "c002"}) as resp:
                assert await resp.json() == {"version": "v2", "host": "c002"}

            # and removing the skill removes its webhook
            (skill_pkg.path / "alerts.py").unlink()
            await bot.say("root", "reload skills")
            async with session.post(url, json={"host": "c003"}) as resp:
                assert resp.status == 404
        assert len(bot.app.webhooks) == 0


async def test_two_webhooks_with_one_name_in_one_skill_fail_its_setup(tmp_path, skill_pkg):
    skill_pkg.write(
        "alerts",
        HOOK.format(version="v1")
        + """
@skill.setup
def setup(scope):
    scope.add_webhook("alert", alert)
    scope.add_webhook("alert", alert)
""",
    )
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        assert "alerts" not in bot.app.registry.skills
        assert len(bot.app.webhooks) == 0  # the first registration was undone too
