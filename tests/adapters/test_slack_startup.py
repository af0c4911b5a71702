"""Start-up of the Slack adapter: config validation, bad tokens, missing scopes, Redis dedupe."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from peers.slack_peer import SlackPeer, settings_for, write_skill_package

from bot.adapters.slack import SlackAdapter, SlackStartupError
from bot.adapters.slack.config import load_slack_settings
from bot.app import Application
from bot.errors import ConfigError

WRONG_BOT_TOKEN = "xoxb-1111111111-wrong-wrong-wrong"
WRONG_APP_TOKEN = "xapp-1-A111-2222222222-wrong-wrong"


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    yield p
    await p.close()


@pytest.fixture
def skills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    return write_skill_package(tmp_path)


async def start_failure(settings: Any) -> str:
    app = Application(settings, adapters=[SlackAdapter], load_nlu=False)
    with pytest.raises((SlackStartupError, ConfigError)) as info:
        await app.start()
    return str(info.value)


async def test_bad_bot_token_is_a_clear_one_line_error(
    peer: SlackPeer, skills: str, tmp_path: Path
) -> None:
    message = await start_failure(
        settings_for(peer, tmp_path, skills, slack={"bot_token": WRONG_BOT_TOKEN})
    )
    assert "adapters.slack.bot_token" in message and "invalid_auth" in message
    assert "\n" not in message and WRONG_BOT_TOKEN not in message


async def test_bad_app_token_is_a_clear_one_line_error(
    peer: SlackPeer, skills: str, tmp_path: Path
) -> None:
    message = await start_failure(
        settings_for(peer, tmp_path, skills, slack={"app_token": WRONG_APP_TOKEN})
    )
    assert "adapters.slack.app_token" in message and "invalid_auth" in message
    assert "\n" not in message and WRONG_APP_TOKEN not in message


async def test_missing_scopes_are_named(skills: str, tmp_path: Path) -> None:
    peer = await SlackPeer(scopes="chat:write,app_mentions:read").start()
    try:
        message = await start_failure(settings_for(peer, tmp_path, skills))
    finally:
        await peer.close()
    assert "im:history" in message and "im:write" in message and "users:read" in message
    assert "chat:write," not in message


async def test_unreachable_api_is_a_clear_error(
    skills: str, tmp_path: Path, free_port: int
) -> None:
    peer = SlackPeer()
    peer.port = free_port  # nothing listens there
    message = await start_failure(settings_for(peer, tmp_path, skills))
    assert message.startswith("cannot reach the Slack Web API at http://127.0.0.1:")


async def test_cli_reports_a_bad_token_in_one_line_without_traceback(
    peer: SlackPeer, skills: str, tmp_path: Path
) -> None:
    config = tmp_path / "qm.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "adapters": {
                    "shell": {"enabled": False},
                    "slack": {
                        "enabled": True,
                        "bot_token": "${QM_TEST_SLACK_BOT}",
                        "api_url": peer.api_url,
                    },
                },
                "database": {"url": f"sqlite://{tmp_path / 'cli.sqlite3'}"},
                "skills": {"packages": [skills]},
                # a Rasa client loads instantly; the embedded model would train before the exit
                "nlu": {"backend": "rasa", "rasa_url": "http://127.0.0.1:9"},
            }
        )
    )
    env = dict(
        os.environ,
        QM_TEST_SLACK_BOT=WRONG_BOT_TOKEN,
        QUARTERMASTER__ADAPTERS__SLACK__APP_TOKEN=peer.app_token,
        PYTHONPATH=os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--config",
        str(config),
        "run",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    errors = [line for line in err.decode().splitlines() if "error" in line.lower()]
    assert proc.returncode == 1
    assert errors == [
        "quartermaster: error: Slack rejected adapters.slack.bot_token (invalid_auth): use the "
        "Bot User OAuth Token (xoxb-…) of the installed app"
    ]
    assert "Traceback" not in err.decode() and WRONG_BOT_TOKEN not in err.decode() + out.decode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"enabled": True, "bot_token": "xoxb-1"},
            "adapters.slack.app_token: required in socket mode",
        ),
        ({"enabled": True, "app_token": "xapp-1"}, "adapters.slack.bot_token: required"),
        (
            {"enabled": True, "bot_token": "xapp-1", "app_token": "xapp-1"},
            "adapters.slack.bot_token: must be a bot token starting with xoxb-",
        ),
        (
            {"enabled": True, "bot_token": "xoxb-1", "mode": "http"},
            "adapters.slack.signing_secret: required in http mode",
        ),
        (
            {
                "enabled": True,
                "bot_token": "xoxb-1",
                "app_token": "xapp-1",
                "api_url": "http://127.0.0.1:9/v2/",
            },
            "adapters.slack.api_url: must end in /api/",
        ),
        (
            {"enabled": True, "bot_token": "xoxb-1", "app_token": "xapp-1", "mode": "websocket"},
            "adapters.slack.mode: Input should be 'socket' or 'http'",
        ),
        (
            {"enabled": True, "bot_token": "xoxb-1", "app_token": "xapp-1", "tokn": "x"},
            "adapters.slack.tokn: unknown key",
        ),
        (
            {"enabled": True, "bot_token": "xoxb-1", "signing_secret": "s", "mode": "http"},
            "adapters.slack.mode: http mode needs the bot's HTTP server",
        ),
    ],
)
def test_config_errors_name_the_key(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_slack_settings(raw, http_enabled=False)
    assert expected in str(info.value)
    for secret in ("xoxb-1", "xapp-1"):
        assert secret not in str(info.value)


def test_api_url_without_trailing_slash_is_accepted() -> None:
    settings = load_slack_settings(
        {"bot_token": "xoxb-1", "app_token": "xapp-1", "api_url": "http://127.0.0.1:9/api"},
        http_enabled=False,
    )
    assert settings.api_url == "http://127.0.0.1:9/api/"
    assert "xoxb-1" not in repr(settings)


@pytest.mark.redis
async def test_duplicates_are_claimed_in_redis_when_configured(
    peer: SlackPeer, skills: str, tmp_path: Path, redis_client: Any
) -> None:
    prefix = redis_client.qm_prefix
    settings = settings_for(
        peer, tmp_path, skills, redis={"url": "redis://127.0.0.1:6379/0", "prefix": prefix}
    )
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        assert app.redis is not None and app.dedupe.redis is app.redis  # one client
        await peer.wait_connections(1)
        _, envelopes = await peer.say("UALICE", "<@UBOT> ping", "CGENERAL")
        await peer.wait_posted(1)
        for envelope in envelopes:
            await peer.wait_ack(envelope)
        await asyncio.sleep(0.2)
    keys = sorted(k.decode() for k in await redis_client.keys(f"{prefix}seen:*"))
    assert len(peer.posted) == 1
    assert any(":event:" in k for k in keys) and any(":msg:CGENERAL:" in k for k in keys)
