"""The ``vault:`` section of the configuration, validated here because the core keeps it a dict.

Errors name ``vault.<key>`` so an operator can find the line to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import ConfigError


class VaultSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key_file: Path | None = Field(
        None, description="master key file (mode 0600); default: generated in the data dir"
    )
    max_secret_bytes: int = Field(
        16_384, ge=16, le=1_048_576, description="longest value accepted (PEM keys are ~3 kB)"
    )
    max_secrets_per_user: int = Field(50, ge=1, le=10_000)
    channel_guard: bool = Field(True, description="refuse and delete secrets posted in channels")
    retire_unused_keys: bool = Field(
        True, description="after rotate-master, move master keys nothing uses to FILE.retired"
    )


def vault_settings(raw: dict[str, Any] | None, source: str = "") -> VaultSettings:
    """Validate ``app.settings.vault``; raise ``ConfigError`` naming every bad ``vault.<key>``."""
    try:
        return VaultSettings.model_validate(raw or {})
    except ValidationError as exc:
        prefix = f"{source}: " if source and source != "<defaults>" else ""
        lines = []
        for problem in exc.errors():
            key = ".".join(["vault", *(str(p) for p in problem["loc"])])
            msg = problem["msg"]
            if problem["type"] == "extra_forbidden":
                msg = "unknown key (see docs/vault.md)"
            lines.append(f"{prefix}{key}: {msg}")
        raise ConfigError("\n".join(lines)) from None
