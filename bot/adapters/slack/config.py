"""The ``adapters.slack`` keys, validated here because the core only knows ``enabled``.

Errors read like ``adapters.slack.app_token: required in socket mode`` and never echo a value:
tokens are secrets, and a config error is printed on a terminal.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from bot.errors import ConfigError

PREFIX = "adapters.slack"
DEFAULT_API_URL = "https://slack.com/api/"


class SlackSettings(BaseModel):
    """Everything the Slack adapter reads from config (secrets as ``SecretStr``)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    mode: Literal["socket", "http"] = "socket"
    bot_token: SecretStr | None = None
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str = DEFAULT_API_URL
    events_path: str = "/slack/events"
    interactions_path: str = "/slack/interactions"
    ignore_bots: bool = True
    listen_channels: list[str] = Field(default_factory=list)
    #: seconds between two posts to one channel (Slack allows about one per second)
    pace_seconds: float = Field(1.0, ge=0)
    #: Socket Mode heartbeat; a silent connection is replaced after about four intervals
    ping_interval: float = Field(5.0, gt=0)
    #: how long user names and e-mails are cached
    user_cache_seconds: float = Field(3600.0, ge=0)
    #: first and longest wait between reconnect attempts (exponential, with jitter)
    reconnect_base: float = Field(0.5, gt=0)
    reconnect_cap: float = Field(60.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> SlackSettings:
        problems: list[str] = []
        if self.bot_token is None or not self.bot_token.get_secret_value():
            problems.append("bot_token: required (the xoxb-… Bot User OAuth Token)")
        elif not self.bot_token.get_secret_value().startswith("xoxb-"):
            problems.append("bot_token: must be a bot token starting with xoxb-")
        if self.mode == "socket":
            if self.app_token is None or not self.app_token.get_secret_value():
                problems.append(
                    "app_token: required in socket mode (an xapp-… app-level "
                    "token with connections:write)"
                )
            elif not self.app_token.get_secret_value().startswith("xapp-"):
                problems.append("app_token: must be an app-level token starting with xapp-")
        if self.mode == "http" and (
            self.signing_secret is None or not self.signing_secret.get_secret_value()
        ):
            problems.append(
                "signing_secret: required in http mode (Basic Information → Signing Secret)"
            )
        if not self.api_url.startswith(("http://", "https://")):
            problems.append("api_url: must be an http:// or https:// URL ending in /api/")
        elif not self.api_url.endswith("/api/"):
            problems.append("api_url: must end in /api/ (e.g. https://slack.com/api/)")
        for key in ("events_path", "interactions_path"):
            if not getattr(self, key).startswith("/"):
                problems.append(f"{key}: must start with /")
        if problems:
            raise ValueError("\n".join(problems))
        return self


def load_slack_settings(raw: Any, *, http_enabled: bool) -> SlackSettings:
    """Validate the ``adapters.slack`` section; raise a ``ConfigError`` naming each bad key."""
    data = raw.model_dump() if isinstance(raw, BaseModel) else dict(raw or {})
    api_url = data.get("api_url")
    if isinstance(api_url, str) and api_url.endswith("/api"):
        data["api_url"] = api_url + "/"  # slack_sdk joins paths with urljoin
    try:
        settings = SlackSettings.model_validate(data)
    except ValidationError as exc:
        lines: list[str] = []
        for problem in exc.errors():
            loc = ".".join(str(p) for p in problem["loc"])
            if problem["type"] == "value_error":
                msg = str(problem.get("ctx", {}).get("error", problem["msg"]))
                lines.extend(f"{PREFIX}.{line}" for line in msg.splitlines())
                continue
            msg = problem["msg"]
            if problem["type"] == "extra_forbidden":
                msg = "unknown key (see docs/slack.md)"
            lines.append(f"{PREFIX}.{loc}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    if settings.mode == "http" and not http_enabled:
        raise ConfigError(
            f"{PREFIX}.mode: http mode needs the bot's HTTP server (set http.enabled: true)"
        )
    return settings
