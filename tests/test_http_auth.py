"""/healthz and /metrics behind a bearer token and/or on their own listener (issue #13.12), over
real sockets; platform callbacks and skills' webhooks stay on the main listener."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import load_settings
from bot.errors import ConfigError
from bot.testing import TestBot

TOKEN = "s3cret-health-token-0123456789"
ALERTS = """
from aiohttp import web
from bot.skill import Skill
skill = Skill("alerts", "takes alerts from monitoring")

async def alert(request):
    return web.json_response({"ok": True})

@skill.setup
def setup(scope):
    scope.add_webhook("alert", alert, methods=("POST",))
"""


def bot_with(tmp_path: Path, **health: Any) -> TestBot:
    overrides: dict[str, Any] = {"http.enabled": True, "http.port": 0}
    overrides.update({f"http.health.{k}": v for k, v in health.items()})
    return TestBot.create(tmp_path, overrides=overrides)


async def status(
    port: int, path: str, headers: Mapping[str, str] | None = None, method: str = "GET"
) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"http://127.0.0.1:{port}{path}", headers=headers or {}) as resp,
    ):
        await resp.read()
        return resp.status


async def test_by_default_health_and_metrics_are_open_on_the_main_listener(tmp_path: Path) -> None:
    async with bot_with(tmp_path) as bot:
        port = bot.app.http.port
        assert bot.app.http.health_port == port
        assert await status(port, "/healthz") == 200
        assert await status(port, "/metrics") == 200


async def test_with_a_token_it_is_required_and_compared(tmp_path: Path) -> None:
    async with bot_with(tmp_path, token=TOKEN) as bot:
        port = bot.app.http.port
        for path in ("/healthz", "/metrics"):
            assert await status(port, path) == 401
            assert await status(port, path, {"Authorization": "Bearer wrong-token"}) == 401
            assert await status(port, path, {"Authorization": f"Basic {TOKEN}"}) == 401
            assert await status(port, path, {"Authorization": f"Bearer {TOKEN}x"}) == 401
            assert await status(port, path, {"Authorization": f"Bearer {TOKEN}"}) == 200
            assert await status(port, path, {"Authorization": f"bearer {TOKEN}"}) == 200


async def test_a_separate_listener_serves_health_and_the_main_one_does_not(
    tmp_path: Path, skill_pkg: Any
) -> None:
    skill_pkg.write("alerts", ALERTS)
    overrides = {
        "http.enabled": True,
        "http.port": 0,
        "http.health.port": 0,
        "skills.packages": ["skills", skill_pkg.name],
    }
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        main, health = bot.app.http.port, bot.app.http.health_port
        assert main != health
        assert await status(health, "/healthz") == 200
        assert await status(health, "/metrics") == 200
        assert await status(main, "/healthz") == 404
        assert await status(main, "/metrics") == 404
        # skills' webhooks stay where the platforms and senders reach them
        assert await status(main, "/hooks/alerts/alert", method="POST") == 200
        assert await status(health, "/hooks/alerts/alert", method="POST") == 404


async def test_a_separate_listener_with_a_token(tmp_path: Path) -> None:
    async with bot_with(tmp_path, port=0, token=TOKEN) as bot:
        health = bot.app.http.health_port
        assert await status(health, "/healthz") == 401
        assert await status(health, "/healthz", {"Authorization": f"Bearer {TOKEN}"}) == 200


async def test_open_health_on_a_public_address_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    overrides = {"http.enabled": True, "http.port": 0, "http.host": "0.0.0.0"}
    async with TestBot.create(tmp_path, overrides=overrides):
        pass
    assert any("http.health.token" in r.getMessage() for r in caplog.records)
    caplog.clear()
    async with TestBot.create(tmp_path, overrides={**overrides, "http.health.token": TOKEN}):
        pass
    assert not any("http.health.token" in r.getMessage() for r in caplog.records)


def test_the_token_comes_from_the_environment_and_must_not_be_trivial(tmp_path: Path) -> None:
    cfg = tmp_path / "q.yml"
    cfg.write_text("http:\n  health:\n    token: ${HEALTH_TOKEN}\n")
    settings = load_settings(cfg, environ={"HEALTH_TOKEN": TOKEN})
    assert settings.http.health.token == TOKEN
    plain = tmp_path / "plain.yml"
    plain.write_text("http:\n  enabled: true\n")
    settings = load_settings(plain, environ={"QUARTERMASTER__HTTP__HEALTH__TOKEN": TOKEN})
    assert settings.http.health.token == TOKEN
    with pytest.raises(ConfigError, match=r"http\.health\.token"):
        load_settings(cfg, environ={"HEALTH_TOKEN": "short"})
