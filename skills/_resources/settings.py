"""The ``vms:`` and ``observers:`` sections as the VM skill reads them, validated here because
the core keeps them open dicts. Errors name the key (``vms.max_count``) so the line can be found."""

from __future__ import annotations

import re
from datetime import time, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.config import Settings
from bot.errors import ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FlavorSize(_Section):
    cpus: int = Field(ge=1, le=1024)
    memory_mb: int = Field(ge=64, le=16_777_216)


class VmSettings(_Section):
    """``vms:``: what needs staff approval, and what people may ask for."""

    enabled: bool = True
    providers: list[str] = Field(
        default_factory=list, description="providers offered for VMs; default every configured one"
    )
    max_count: int = Field(2, ge=1, description="more VMs than this at once needs approval")
    max_days: int = Field(14, ge=1, description="longer than this needs approval")
    costly_flavors: list[str] = Field(
        default_factory=list, description="flavors that always need approval"
    )
    max_cpus: int = Field(8, ge=1, description="more CPUs than this needs approval")
    hard_max_count: int = Field(10, ge=1, description="never more than this in one request")
    hard_max_days: int = Field(365, ge=1, description="never longer than this")
    flavors: dict[str, FlavorSize] = Field(
        default_factory=lambda: {
            "m1.small": FlavorSize(cpus=1, memory_mb=2048),
            "m1.medium": FlavorSize(cpus=2, memory_mb=4096),
            "m1.large": FlavorSize(cpus=4, memory_mb=8192),
            "m1.xlarge": FlavorSize(cpus=8, memory_mb=16384),
        },
        description="flavor name -> size, for providers that take sizes (libvirt)",
    )
    login_user: str = Field("ubuntu", description="the account to log in as, in the ready message")
    staff_group: str = Field("see_all_resources", description="roles group that sees every VM")


class Window(_Section):
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end  # over midnight


class IdleSettings(_Section):
    enabled: bool = True
    threshold_percent: float = Field(5.0, ge=0, le=100)
    hours: float = Field(48.0, gt=0, description="idle this long before the owner is told")
    every_minutes: float = Field(60.0, gt=0)
    keep_days: float = Field(7.0, gt=0, description="'Keep' silences the idle alert this long")
    snooze_hours: float = Field(24.0, gt=0)


class ExpirySettings(_Section):
    enabled: bool = True
    warn_days: list[int] = Field(default_factory=lambda: [15, 5])
    email: bool = True
    every_minutes: float = Field(60.0, gt=0)

    @field_validator("warn_days")
    @classmethod
    def _positive(cls, days: list[int]) -> list[int]:
        if any(d < 1 for d in days):
            raise ValueError("every warning is at least 1 day ahead")
        return sorted(set(days), reverse=True)


class CleanupSettings(_Section):
    enabled: bool = True
    delete: bool = Field(False, description="really delete expired VMs (default: dry run)")
    every_minutes: float = Field(60.0, gt=0)


class SummarySettings(_Section):
    enabled: bool = True
    every_hours: float = Field(24.0, gt=0)
    idle_days: float = Field(2.0, gt=0)


class ReconcileSettings(_Section):
    enabled: bool = True
    every_minutes: float = Field(30.0, gt=0)


class ObserverSettings(_Section):
    """The VM observers' parts of ``observers:`` (other keys belong to other skills)."""

    idle: IdleSettings = IdleSettings()
    expiry: ExpirySettings = ExpirySettings()
    cleanup: CleanupSettings = CleanupSettings()
    summary: SummarySettings = SummarySettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    quiet_hours: Window | None = None

    def quiet(self, moment: time) -> bool:
        return self.quiet_hours is not None and self.quiet_hours.contains(moment)


_HHMM = re.compile(r"\s{0,5}(\d{1,2}):(\d{2})\s{0,5}-\s{0,5}(\d{1,2}):(\d{2})\s{0,5}")


def _window(raw: Any) -> Any:
    """``quiet_hours: "22:00-07:00"`` or ``{start: …, end: …}``."""
    if isinstance(raw, str):
        found = _HHMM.fullmatch(raw[:40])
        if found is None:
            raise ConfigError(f"observers.quiet_hours: {raw[:40]!r} is not like 22:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ConfigError(f"observers.quiet_hours: {raw[:40]!r} is not a time of day")
        return {"start": time(h1, m1), "end": time(h2, m2)}
    return raw


def _errors(section: str, exc: ValidationError, source: str) -> ConfigError:
    prefix = f"{source}: " if source and source != "<defaults>" else ""
    lines = []
    for problem in exc.errors():
        key = ".".join([section, *(str(p) for p in problem["loc"])])
        msg = problem["msg"]
        if problem["type"] == "extra_forbidden":
            msg = "unknown key (see docs/resources.md)"
        lines.append(f"{prefix}{key}: {msg}")
    return ConfigError("\n".join(lines))


def vm_settings(settings: Settings) -> VmSettings:
    try:
        return VmSettings.model_validate(settings.vms or {})
    except ValidationError as exc:
        raise _errors("vms", exc, settings.source) from None


def observer_settings(settings: Settings) -> ObserverSettings:
    raw = {
        name: settings.observers.section(name)
        for name in ("idle", "expiry", "cleanup", "summary", "reconcile")
    }
    quiet = (settings.observers.model_extra or {}).get("quiet_hours")
    if quiet is not None:
        raw["quiet_hours"] = _window(quiet)
    try:
        return ObserverSettings.model_validate(raw)
    except ValidationError as exc:
        raise _errors("observers", exc, settings.source) from None


def minutes(value: float) -> timedelta:
    return timedelta(minutes=value)
