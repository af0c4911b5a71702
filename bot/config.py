"""Settings: one YAML file, validated at start, with environment overrides for secrets.

Errors name the file, the dotted key and the problem, because the person reading them is an
operator at a terminal, not a Python developer.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.errors import ConfigError
from bot.paths import config_dir, data_dir

ENV_PREFIX = "QUARTERMASTER__"
#: libyaml's parser when PyYAML was built with it (10x faster than the pure-Python one)
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
DEFAULT_ROLES = ["researcher", "helpdesk", "staff", "management", "operator", "admin"]
#: the groups the bundled skills name in their checks (``bot.checks.in_group``); a site's
#: ``roles.groups`` replaces a group's roles, and may add groups of its own
DEFAULT_GROUPS: dict[str, list[str]] = {
    "request_handlers": ["helpdesk", "staff", "management", "operator"],
    "see_all_requests": ["helpdesk", "staff", "management", "operator"],
    "file_for_others": ["helpdesk"],
    "edit_any_request": ["staff"],
    "comment_on_any_request": ["helpdesk", "staff"],
    "see_all_resources": ["helpdesk", "staff", "management", "operator"],
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ShellSettings(_Section):
    enabled: bool = True
    user: str | None = Field(None, description="local user name; default $USER")
    admin: bool = Field(True, description="grant the local user the admin role")
    history_file: Path | None = None


class PlatformSettings(BaseModel):
    """Platform adapters validate their own keys; the core only needs ``enabled``."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = False


class AdaptersSettings(_Section):
    """One section per platform; a key other than the shipped three is a site's own adapter,
    accepted when an installed package declares it (``quartermaster.adapters`` entry points)."""

    model_config = ConfigDict(extra="allow")

    shell: ShellSettings = ShellSettings()
    slack: PlatformSettings = PlatformSettings()
    mattermost: PlatformSettings = PlatformSettings()

    @model_validator(mode="after")
    def _installed_platforms_only(self) -> AdaptersSettings:
        extra = self.model_extra or {}
        if not extra:
            return self
        from bot import plugins

        declared = plugins.declared(plugins.ADAPTERS)
        for name, section in extra.items():
            if name not in declared:
                raise PydanticCustomError(
                    "unknown_adapter",
                    "{name}: unknown key (no adapter of that name is "
                    "installed; installed: {installed})",
                    {"name": name, "installed": ", ".join(sorted(declared)) or "none"},
                )
            if not isinstance(section, dict) or not isinstance(section.get("enabled", False), bool):
                raise ValueError(f"{name}: must be a mapping with `enabled: true|false`")
        return self


class DatabaseSettings(_Section):
    url: str | None = Field(None, description="sqlite://PATH or postgres://USER:PW@HOST:PORT/DB")
    #: every query's limit: a database that does not answer in time fails the turn clearly
    timeout_seconds: float = Field(5.0, gt=0, le=300)

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return f"sqlite://{data_dir() / 'quartermaster.sqlite3'}"


class RedisSettings(_Section):
    url: str | None = None
    prefix: str = "qm:"


class RolesSettings(_Section):
    default: str = "researcher"
    known: list[str] = Field(default_factory=lambda: list(DEFAULT_ROLES))
    grants: dict[str, list[str]] = Field(default_factory=dict)
    #: group name -> roles; code names groups in its checks, the site names the roles
    groups: dict[str, list[str]] = Field(default_factory=dict, validate_default=True)

    @field_validator("grants")
    @classmethod
    def _known_roles(cls, grants: dict[str, list[str]], info: Any) -> dict[str, list[str]]:
        known = info.data.get("known", DEFAULT_ROLES)
        for role in grants:
            if role not in known:
                raise ValueError(f"role {role!r} is not one of the known roles {known}")
        return grants

    @field_validator("groups")
    @classmethod
    def _groups_of_known_roles(
        cls, groups: dict[str, list[str]], info: Any
    ) -> dict[str, list[str]]:
        """Defaults first, the site's groups over them; every role named must be known."""
        known = info.data.get("known", DEFAULT_ROLES)
        for name, roles in groups.items():
            unknown = [r for r in roles if r not in known]
            if unknown:
                raise ValueError(
                    f"group {name!r} names the role {unknown[0]!r}, which is not "
                    f"one of the known roles {known}"
                )
        defaults = {k: [r for r in v if r in known] for k, v in DEFAULT_GROUPS.items()}
        return {**defaults, **groups}


def _check_accounts(identities: dict[str, list[str]]) -> dict[str, list[str]]:
    owner: dict[str, str] = {}
    for person, accounts in identities.items():
        for account in accounts:
            if ":" not in account:
                raise ValueError(f"{person}: {account!r} must be platform:id, e.g. slack:U024BE7LH")
            if account in owner:
                raise ValueError(f"{account} is listed for both {owner[account]} and {person}")
            owner[account] = person
    return identities


class SkillsSettings(_Section):
    packages: list[str] = Field(default_factory=lambda: ["skills"])
    disabled: list[str] = Field(default_factory=list)


class HealthSettings(_Section):
    """``http.health``: where ``/healthz`` and ``/metrics`` are served and who may read them.

    Unset, they share the main listener, open, as a local ``make run`` expects.
    """

    host: str | None = Field(None, description="their own listener's address; default http.host")
    port: int | None = Field(
        None, ge=0, le=65535, description="a separate listener for them; unset: the main one"
    )
    token: str | None = Field(
        None, min_length=16, description="bearer token required to read them (set from env)"
    )


class HttpSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str | None = None
    health: HealthSettings = HealthSettings()


class RateLimitSettings(_Section):
    enabled: bool = True
    messages: int = Field(20, ge=1)
    per_seconds: float = Field(10.0, gt=0)


class DispatcherSettings(_Section):
    max_pending: int = Field(10_000, ge=1)


class ConversationSettings(_Section):
    timeout_minutes: float = Field(30.0, gt=0)


class ObserversSettings(BaseModel):
    """``observers:``: how often a warning may repeat; each observer reads its own sub-section
    (e.g. ``observers: {idle: {threshold_percent: 5}}``), so unknown keys are kept."""

    model_config = ConfigDict(extra="allow")
    enabled: bool = True
    repeat_after_hours: float = Field(24.0, gt=0, description="hours before a warning repeats")

    def section(self, name: str) -> dict[str, Any]:
        value = (self.model_extra or {}).get(name)
        return dict(value) if isinstance(value, dict) else {}


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file: Path | None = None


class Settings(_Section):
    name: str = "quartermaster"
    adapters: AdaptersSettings = AdaptersSettings()
    database: DatabaseSettings = DatabaseSettings()
    redis: RedisSettings = RedisSettings()
    roles: RolesSettings = RolesSettings()
    nlu: dict[str, Any] = Field(default_factory=lambda: {"backend": "embedded"})
    skills: SkillsSettings = SkillsSettings()
    http: HttpSettings = HttpSettings()
    rate_limit: RateLimitSettings = RateLimitSettings()
    dispatcher: DispatcherSettings = DispatcherSettings()
    conversations: ConversationSettings = ConversationSettings()
    identities: dict[str, list[str]] = Field(
        default_factory=dict,
        description="person -> accounts (platform:id) that are the same human on several platforms",
    )
    observers: ObserversSettings = ObserversSettings()
    providers: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="provider name -> its settings, validated by the provider (bot.providers)",
    )
    workflows: dict[str, Any] = Field(default_factory=dict)
    vms: dict[str, Any] = Field(
        default_factory=dict, description="VMs from chat: policy and defaults (skills/vms.py)"
    )
    vault: dict[str, Any] = Field(default_factory=dict)
    email: dict[str, Any] = Field(default_factory=dict)
    loans: dict[str, Any] = Field(default_factory=dict)
    logging: LoggingSettings = LoggingSettings()

    @field_validator("identities")
    @classmethod
    def _identities(cls, identities: dict[str, list[str]]) -> dict[str, list[str]]:
        return _check_accounts(identities)

    #: where the settings were read from (for messages); not a config key
    source: str = Field("<defaults>", exclude=True)


def default_config_path() -> Path:
    env = os.environ.get("QUARTERMASTER_CONFIG")
    return Path(env).expanduser() if env else config_dir() / "quartermaster.yml"


def _expand_env(value: Any, where: str, source: str, environ: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: _expand_env(v, f"{where}.{k}" if where else str(k), source, environ)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_expand_env(v, f"{where}[{i}]", source, environ) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(f"{source}: {where}: environment variable {name} is not set")

        return _ENV_REF.sub(sub, value)
    return value


def _apply_env_overrides(raw: dict[str, Any], environ: dict[str, str]) -> None:
    """``QUARTERMASTER__ADAPTERS__SLACK__BOT_TOKEN=xoxb-…`` sets ``adapters.slack.bot_token``."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__") if p]
        node = raw
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        if path:
            node[path[-1]] = yaml.safe_load(value) if value else value
    for short, dotted in (
        ("QUARTERMASTER_DATABASE_URL", ("database", "url")),
        ("QUARTERMASTER_REDIS_URL", ("redis", "url")),
    ):
        if environ.get(short):
            raw.setdefault(dotted[0], {})[dotted[1]] = environ[short]


def _format_validation(source: str, err: ValidationError) -> str:
    lines = []
    for problem in err.errors():
        key = ".".join(str(p) for p in problem["loc"]) or "(top level)"
        msg = problem["msg"]
        if problem["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/configuration.md)"
        elif problem["type"] == "unknown_adapter":  # named by the section's validator
            key, msg = f"{key}.{problem['ctx']['name']}", msg.partition(": ")[2]
        lines.append(f"{source}: {key}: {msg}")
    return "\n".join(lines)


def load_settings(
    path: Path | str | None = None, *, environ: dict[str, str] | None = None
) -> Settings:
    """Read, expand and validate the configuration; a missing default file means defaults."""
    environ = dict(os.environ) if environ is None else environ
    explicit = path is not None
    cfg_path = Path(path) if path is not None else default_config_path()
    source = str(cfg_path)
    raw: Any = {}
    if cfg_path.exists():
        try:
            raw = yaml.load(cfg_path.read_text(encoding="utf-8"), Loader=SAFE_LOADER) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from None
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of keys to values")
    elif explicit:
        raise ConfigError(f"{source}: no such file")
    else:
        source = "<defaults>"
    raw = _expand_env(raw, "", source, environ)
    _apply_env_overrides(raw, environ)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc)) from None
    settings.source = source
    return settings
