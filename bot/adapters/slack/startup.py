"""Checking the Slack tokens at start, and reading Slack's error answers.

A wrong token, a missing scope or an unreachable API is one clear line for the operator
(``SlackStartupError``), never a traceback and never the token itself.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack.events import Identity
from bot.errors import QuartermasterError
from bot.logs import redact

log = logging.getLogger(__name__)

#: scopes without which the bot cannot do its job (checked at start from X-OAuth-Scopes)
REQUIRED_SCOPES = frozenset(
    {"app_mentions:read", "chat:write", "im:history", "im:write", "users:read"}
)
#: scopes whose absence only disables something (e-mails, thread replies without a mention)
RECOMMENDED_SCOPES = frozenset({"users:read.email", "channels:history", "groups:history"})
BAD_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "not_allowed_token_type",
    }
)


class SlackStartupError(QuartermasterError):
    """The Slack adapter cannot start; the message is one line for the operator, no secrets."""


async def check_auth(client: AsyncWebClient, api_url: str) -> Identity:
    """``auth.test`` with the bot token: who we are, and whether the scopes suffice."""
    try:
        resp = await client.auth_test()
    except SlackApiError as exc:
        error = error_code(exc)
        if error in BAD_TOKEN_ERRORS:
            raise SlackStartupError(
                f"Slack rejected adapters.slack.bot_token ({error}): use the Bot User OAuth "
                "Token (xoxb-…) of the installed app"
            ) from None
        raise SlackStartupError(f"Slack auth.test failed ({error})") from None
    except (ClientError, OSError, TimeoutError) as exc:
        raise SlackStartupError(
            f"cannot reach the Slack Web API at {redact(api_url)} ({type(exc).__name__})"
        ) from None
    granted = scopes(resp.headers)
    if granted is not None:
        missing = REQUIRED_SCOPES - granted
        if missing:
            raise SlackStartupError(
                "the Slack bot token lacks the scopes "
                + ", ".join(sorted(missing))
                + ": add them under OAuth & Permissions (see config/slack-app-manifest.yml)"
                " and reinstall the app"
            )
        if RECOMMENDED_SCOPES - granted:
            log.warning(
                "Slack bot token lacks %s; some features are off (see docs/slack.md)",
                ", ".join(sorted(RECOMMENDED_SCOPES - granted)),
            )
    return Identity(str(resp.get("user_id")), resp.get("bot_id"), resp.get("team_id"))


def socket_error(exc: BaseException) -> SlackStartupError:
    """What ``apps.connections.open`` (or the WebSocket behind it) failing means."""
    if isinstance(exc, SlackApiError):
        error = error_code(exc)
        if error in BAD_TOKEN_ERRORS:
            return SlackStartupError(
                f"Slack rejected adapters.slack.app_token ({error}): use an app-level "
                "token (xapp-…) with the connections:write scope"
            )
        return SlackStartupError(f"Slack apps.connections.open failed ({error})")
    return SlackStartupError(f"cannot open the Slack Socket Mode connection ({type(exc).__name__})")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        data = getattr(exc.response, "data", None)
        if isinstance(data, dict) and data.get("error"):
            return str(data["error"])
        return f"HTTP {exc.response.status_code}"
    return type(exc).__name__


def header(headers: Any, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def scopes(headers: Any) -> frozenset[str] | None:
    raw = header(headers, "x-oauth-scopes")
    if raw is None:
        return None
    return frozenset(s.strip() for s in raw.split(",") if s.strip())


def retry_after(headers: Any) -> float:
    raw = header(headers, "retry-after")
    try:
        return float(raw) if raw is not None else 1.0
    except ValueError:
        return 1.0
