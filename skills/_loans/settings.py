"""The ``loans:`` section of the configuration, validated here because the core keeps it a dict.

Errors name ``loans.<key>`` so an operator can find the line to fix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError

_NODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_:]{0,99}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeInfo(_Model):
    kind: str = Field(min_length=1, max_length=40)
    rack: str = ""


class ExpirySettings(_Model):
    warn_days: list[int] = Field(default_factory=lambda: [15, 5])
    dry_run: bool = Field(
        True, description="report what expiry would remove instead of removing it"
    )
    every_minutes: int = Field(60, ge=1, le=1440)

    @field_validator("warn_days")
    @classmethod
    def _descending(cls, days: list[int]) -> list[int]:
        if any(d < 1 for d in days):
            raise ValueError("warning days must be 1 or more")
        return sorted(set(days), reverse=True)


class PolicySettings(_Model):
    max_days: int = Field(183, ge=1, le=3660, description="longest loan, extensions included")
    extensions_before_management: int = Field(
        2, ge=0, description="extensions staff may approve; later ones need management"
    )


class LoanSettings(_Model):
    hiera_repo: Path | None = Field(None, description="git working copy of the Puppet data")
    remote: str | None = Field(None, description="where changes are pushed (URL or path)")
    branch: str = "main"
    node_file: str = Field("nodes/{node}.yaml", description="path of a node's file in the repo")
    users_key: str = "users"
    inventory: dict[str, NodeInfo] = Field(default_factory=dict)
    git_timeout: float = Field(30.0, gt=0, le=600)
    push_attempts: int = Field(3, ge=1, le=10)
    author: str = "Quartermaster <quartermaster@localhost>"
    sudo_rule: str = Field("ALL=(ALL) ALL", description="the sudoers entry of a user given sudo")
    expiry: ExpirySettings = ExpirySettings()
    policy: PolicySettings = PolicySettings()

    @field_validator("inventory")
    @classmethod
    def _names(cls, inventory: dict[str, NodeInfo]) -> dict[str, NodeInfo]:
        for name in inventory:
            if not _NODE.match(name):
                raise ValueError(f"{name!r} is not a node name")
        return inventory

    @field_validator("users_key")
    @classmethod
    def _key(cls, key: str) -> str:
        if not _KEY.match(key):
            raise ValueError(f"{key!r} is not a Hiera key")
        return key

    @field_validator("node_file")
    @classmethod
    def _pattern(cls, pattern: str) -> str:
        if "{node}" not in pattern or pattern.startswith("/") or ".." in pattern:
            raise ValueError("must be a relative path containing {node}")
        return pattern

    @property
    def kinds(self) -> list[str]:
        return sorted({n.kind for n in self.inventory.values()})

    def nodes_of(self, kind: str) -> list[str]:
        return sorted(n for n, info in self.inventory.items() if info.kind == kind)


def loan_settings(raw: dict[str, Any] | None, source: str = "") -> LoanSettings:
    """Validate ``app.settings.loans``; raise ``ConfigError`` naming every bad ``loans.<key>``."""
    try:
        return LoanSettings.model_validate(raw or {})
    except ValidationError as exc:
        prefix = f"{source}: " if source and source != "<defaults>" else ""
        lines = []
        for problem in exc.errors():
            key = ".".join(["loans", *(str(p) for p in problem["loc"])])
            lines.append(f"{prefix}{key}: {problem['msg'].removeprefix('Value error, ')}")
        raise ConfigError("\n".join(lines)) from None
