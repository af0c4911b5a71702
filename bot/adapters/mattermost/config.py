"""The ``adapters.mattermost`` settings: validated here, so the core config stays platform-free.

Errors read like the rest of the configuration (``adapters.mattermost.token: required``) because
the reader is an operator at a terminal. The action secret that signs button callbacks is
generated once and kept in the data directory when the config does not set one.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from bot.errors import ConfigError
from bot.paths import data_dir
from bot.textsplit import MIN_LIMIT

if TYPE_CHECKING:
    from bot.config import Settings

PREFIX = "adapters.mattermost"
SECRET_FILE = "mattermost_action_secret"


class MattermostSettings(BaseModel):
    """What the Mattermost adapter needs to know; ``url`` may carry a base path."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    url: str = Field(description="server URL: scheme, host, optional port and base path")
    token: SecretStr = Field(description="the bot account's access token")
    team: str | None = Field(None, description="only this team (name or id); default all")
    action_secret: SecretStr | None = Field(None, description="signs button callbacks")
    actions_url: str | None = Field(None, description="public base URL of the bot's HTTP server")
    actions_path: str = "/mattermost/actions"
    action_expiry_days: float = Field(
        7.0,
        gt=0,
        description="a button older than this answers with where to ask for the current state",
    )
    ignore_bots: bool = True
    listen_channels: list[str] = Field(
        default_factory=list, description="channels read without a mention"
    )
    verify_tls: bool = True
    request_timeout: float = Field(30.0, gt=0)
    heartbeat_seconds: float = Field(30.0, gt=0)
    reconnect_base_seconds: float = Field(0.5, gt=0)
    reconnect_max_seconds: float = Field(60.0, gt=0)
    connect_timeout: float = Field(15.0, gt=0)
    min_post_interval: float = Field(0.2, ge=0, description="seconds between posts per channel")
    catchup_overlap_ms: int = Field(2000, ge=0)
    restart_catchup_minutes: float = Field(
        60.0,
        ge=0,
        description="after a restart, handle posts missed while the bot was down "
        "if it stopped at most this long ago (0 = never)",
    )
    cursor_save_seconds: float = Field(30.0, gt=0)
    user_cache_seconds: float = Field(600.0, ge=0)
    max_post_size: int = Field(
        16383,
        ge=MIN_LIMIT,
        description="characters per post when the server does not report "
        "its MaxPostSize; longer replies are split",
    )
    retries: int = Field(3, ge=0, description="retries of a 5xx or connection failure")
    retry_base_seconds: float = Field(0.5, gt=0)
    retry_max_seconds: float = Field(8.0, gt=0)

    @field_validator("token", "action_secret", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # env overrides are YAML-parsed, so a numeric-looking token arrives as an int
        return str(value) if isinstance(value, int | float) else value

    @field_validator("token")
    @classmethod
    def _non_empty(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("required (the bot account's access token)")
        return value

    @field_validator("url", "actions_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host name")
        return value.strip().rstrip("/")

    @field_validator("actions_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    # -- derived -------------------------------------------------------------------------------
    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    @property
    def base_path(self) -> str:
        """The path a server under a sub-path lives at (``/chat``), or ``""``."""
        return urlsplit(self.url).path.rstrip("/")


def _format(err: ValidationError) -> str:
    lines = []
    for problem in err.errors():
        key = ".".join(str(p) for p in problem["loc"])
        msg = problem["msg"]
        if problem["type"] == "missing":
            msg = "required"
        elif problem["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/mattermost.md)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{PREFIX}.{key}: {msg}" if key else f"{PREFIX}: {msg}")
    return "\n".join(lines)


def load(settings: Settings) -> MattermostSettings:
    """Validate ``adapters.mattermost``; a ``ConfigError`` names the key and never the token."""
    raw = settings.adapters.mattermost.model_dump()
    try:
        return MattermostSettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format(exc)) from None


def action_secret(cfg: MattermostSettings, directory: Path | None = None) -> str:
    """The configured secret, else one generated on first start and kept (0600) in the data dir.

    Persisting it keeps buttons posted before a restart clickable afterwards.
    """
    if cfg.action_secret is not None and cfg.action_secret.get_secret_value():
        return cfg.action_secret.get_secret_value()
    path = (directory or data_dir()) / SECRET_FILE
    try:
        existing = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race: use its secret
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return value
