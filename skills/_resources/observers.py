"""The observers that watch VMs (``bot.observers``: the runner keeps per-VM state, so a warning
is told once and survives restarts; snoozes are honoured; one process runs each firing).

- ``vm-idle``: CPU below ``observers.idle.threshold_percent`` for ``hours`` → the owner gets a
  DM with Keep / Release / Snooze.
- ``vm-expiry``: ``warn_days`` (15 and 5) ahead → DM (and e-mail) with Extend / Release.
- ``vm-cleanup``: at expiry, a dry run by default (says what it would delete); deletes when
  ``observers.cleanup.delete`` is true; the owner is always told.
- ``vm-summary``: staff hear "3 VMs idle > 2 days" once a period.
- ``vm-reconcile``: a VM deleted outside the bot is marked gone (owner told); one of ours at
  the provider that the table does not know is reported to staff, never deleted.

Quiet hours hold back the non-urgent ones (idle, expiry, summary): their findings are held
(``Finding.hold``: state and snoozes kept, nobody notified) and told at the first run after."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.events import Choice
from bot.observers import DRY_RUN, Finding
from bot.providers import ProviderError
from bot.storage.models import Resource
from skills._resources import provision, store
from skills._resources.registry import PROVIDERS, ProviderRegistry
from skills._resources.settings import ObserverSettings, observer_settings, vm_settings
from skills._resources.store import Vm

if TYPE_CHECKING:
    from bot.app import Application
    from bot.scope import SkillScope

log = logging.getLogger(__name__)

STAFF_ROLE = "staff"
EXTEND, RELEASE, KEEP, SNOOZE = "vms.extend", "vms.release", "vms.keep", "vms.snooze"
#: warnings about a date are told once, not again every day
ONCE = timedelta(days=3650)


def subject(vm: Vm) -> str:
    return f"vm:{vm.id}"


def _providers(app: Application) -> ProviderRegistry | None:
    return app.services.get(PROVIDERS)


def _staff(app: Application) -> tuple[str, ...]:
    return tuple(app.roles.holders(STAFF_ROLE))


def _quietly(findings: list[Finding]) -> list[Finding]:
    """Quiet hours: everything found is held (state kept, nobody told until they end)."""
    return [replace(f, hold=True) for f in findings]


def _is_quiet(settings: ObserverSettings, now: datetime) -> bool:
    return settings.quiet(now.time())


# -- idle ----------------------------------------------------------------------------------------
class IdleObserver:
    name = "vm-idle"

    def __init__(self, settings: ObserverSettings) -> None:
        self.settings = settings
        self.every = timedelta(minutes=settings.idle.every_minutes)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        providers = _providers(app)
        if providers is None:
            return []
        cfg = self.settings.idle
        findings = []
        for vm in await store.listing():
            if vm.state != store.RUNNING or vm.provider not in providers.names:
                continue
            since = await _idle_since(app, providers, vm, now, cfg.threshold_percent, cfg.hours)
            if since is None or now - since < timedelta(hours=cfg.hours):
                continue
            hours = (now - since).total_seconds() / 3600
            findings.append(
                Finding(
                    subject(vm),
                    "idle",
                    f"Your VM {vm.name} ({vm.describe()}) has been idle for {_span(hours)} "
                    f"(CPU below {cfg.threshold_percent:g}%). Keep it, or release it so "
                    "someone else can use the capacity?",
                    notify=(vm.owner,),
                    choices=(
                        Choice("Keep", KEEP, vm.name),
                        Choice("Release", RELEASE, vm.name, style="danger"),
                        Choice("Snooze", SNOOZE, vm.name),
                    ),
                )
            )
        if _is_quiet(self.settings, now):
            return _quietly(findings)
        return findings


async def _idle_since(
    app: Application,
    providers: ProviderRegistry,
    vm: Vm,
    now: datetime,
    threshold: float,
    hours: float,
) -> datetime | None:
    """Since when the VM has been below the threshold (kept in its row), or None if busy."""
    provider = providers.get(vm.provider)
    try:
        credential = await providers.credential_for(provider, vm.owner)
        usage = await provider.usage(
            vm.external_id, now - timedelta(hours=hours), credential=credential
        )
    except ProviderError as exc:
        log.info("idle check of %s skipped: %s", vm.name, type(exc).__name__)
        return None
    row = await Resource.get(id=vm.id)
    data = dict(row.data or {})
    if usage.cpu_percent >= threshold:
        if "idle_since" in data:
            data.pop("idle_since")
            await Resource.filter(id=vm.id).update(data=data)
        return None
    raw = data.get("idle_since")
    if isinstance(raw, str):
        return datetime.fromisoformat(raw)
    since = vm.created or now
    data["idle_since"] = since.isoformat()
    await Resource.filter(id=vm.id).update(data=data)
    return since


def _span(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    return f"{hours:.0f} hours"


# -- expiry --------------------------------------------------------------------------------------
class ExpiryObserver:
    name = "vm-expiry"

    def __init__(self, settings: ObserverSettings) -> None:
        self.settings = settings
        self.every = timedelta(minutes=settings.expiry.every_minutes)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        cfg = self.settings.expiry
        findings = []
        for vm in await store.listing():
            if vm.expires_at is None or vm.expires_at <= now:
                continue
            left = vm.expires_at - now
            due = [d for d in cfg.warn_days if left <= timedelta(days=d)]
            if not due:
                continue
            days = min(due)
            text = (
                f"Your VM {vm.name} ({vm.describe()}) expires on "
                f"{vm.expires_at:%Y-%m-%d %H:%M} UTC, in {_days_left(left)}. Extend it by a "
                f"week, or release it now? (Details: `show {vm.name}`.)"
            )
            findings.append(
                Finding(
                    subject(vm),
                    f"expires-{days}d",
                    text,
                    notify=(vm.owner,),
                    choices=(
                        Choice("Extend", EXTEND, vm.name, style="primary"),
                        Choice("Release", RELEASE, vm.name, style="danger"),
                    ),
                    email_subject="VM expiry" if cfg.email else "",
                )
            )
        if _is_quiet(self.settings, now):
            return _quietly(findings)
        return findings


def _days_left(left: timedelta) -> str:
    days = left.total_seconds() / 86400
    return f"{days:.0f} days" if days >= 1.5 else f"{left.total_seconds() / 3600:.0f} hours"


# -- cleanup at expiry ---------------------------------------------------------------------------
class CleanupObserver:
    name = "vm-cleanup"

    def __init__(self, settings: ObserverSettings) -> None:
        self.settings = settings
        self.every = timedelta(minutes=settings.cleanup.every_minutes)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        providers = _providers(app)
        delete = self.settings.cleanup.delete and not DRY_RUN.get()
        findings = []
        for vm in await store.listing():
            if vm.expires_at is None or vm.expires_at > now or vm.state == store.CREATING:
                continue
            when = f"{vm.expires_at:%Y-%m-%d %H:%M} UTC"
            if not delete or providers is None:
                findings.append(
                    Finding(
                        subject(vm),
                        "would-delete",
                        f"{vm.name} ({vm.describe()}, owner {vm.owner_name or vm.owner}) "
                        f"expired on {when}. Cleanup is a dry run, so I left it running; "
                        "it would be deleted now. Extend it or release it.",
                        notify=(vm.owner, *[k for k in _staff(app) if k != vm.owner]),
                        choices=(
                            Choice("Extend", EXTEND, vm.name, style="primary"),
                            Choice("Release", RELEASE, vm.name, style="danger"),
                        ),
                    )
                )
                continue
            try:
                await provision.delete(
                    app, providers, vm, actor="observer:vm-cleanup", state=store.EXPIRED
                )
            except Exception as exc:
                log.warning("cleanup of %s failed: %s", vm.name, exc)
                findings.append(
                    Finding(
                        subject(vm),
                        "delete-failed",
                        f"{vm.name} expired on {when}, but deleting it failed: {exc}",
                        notify=(vm.owner, *[k for k in _staff(app) if k != vm.owner]),
                    )
                )
                continue
            findings.append(
                Finding(
                    f"{subject(vm)}:deleted",
                    "deleted",
                    f"Your VM {vm.name} ({vm.describe()}) expired on {when} and I deleted it.",
                    notify=(vm.owner,),
                )
            )
        return findings


# -- staff summary -------------------------------------------------------------------------------
class SummaryObserver:
    name = "vm-summary"

    def __init__(self, settings: ObserverSettings) -> None:
        self.settings = settings
        self.every = timedelta(hours=settings.summary.every_hours)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        if _is_quiet(self.settings, now):
            return _quietly(await self._findings(app, now))
        return await self._findings(app, now)

    async def _findings(self, app: Application, now: datetime) -> list[Finding]:
        idle_days = self.settings.summary.idle_days
        vms = await store.listing()
        idle = []
        for vm in vms:
            row = await Resource.get(id=vm.id)
            raw = (row.data or {}).get("idle_since")
            if isinstance(raw, str) and now - datetime.fromisoformat(raw) > timedelta(
                days=idle_days
            ):
                idle.append(vm)
        soon = [v for v in vms if v.expires_at and now < v.expires_at <= now + timedelta(days=5)]
        expired = [v for v in vms if v.expires_at and v.expires_at <= now]
        if not (idle or soon or expired):
            return []
        parts = []
        if idle:
            parts.append(
                f"{len(idle)} VM{'s' if len(idle) != 1 else ''} idle > {idle_days:g} days "
                f"({', '.join(v.name for v in idle)})"
            )
        if soon:
            parts.append(f"{len(soon)} expiring within 5 days")
        if expired:
            parts.append(f"{len(expired)} expired and still running")
        return [
            Finding(
                "vms",
                "summary",
                f"VM summary: {'; '.join(parts)}. Say `list all vms` for details.",
                notify=_staff(app),
            )
        ]


# -- reconcile -----------------------------------------------------------------------------------
class ReconcileObserver:
    name = "vm-reconcile"

    def __init__(self, settings: ObserverSettings) -> None:
        self.every = timedelta(minutes=settings.reconcile.every_minutes)

    async def check(self, app: Application, now: datetime) -> list[Finding]:
        providers = _providers(app)
        return [] if providers is None else await reconcile(app, providers)


async def reconcile(app: Application, providers: ProviderRegistry) -> list[Finding]:
    """Mark VMs deleted outside the bot ``gone`` (owner told); report ours the table lacks."""
    findings: list[Finding] = []
    for name in providers.names:
        provider = providers.get(name)
        known = await store.listing(provider=name)
        owners = sorted({v.owner for v in known}) if provider.credential_name else [""]
        listed: dict[str, Any] = {}
        for owner in owners:
            try:
                credential = await providers.credential_for(provider, owner) if owner else None
                for item in await provider.list(credential=credential):
                    listed[item.external_id] = item
            except Exception as exc:  # one owner's revoked token must not stop the others
                log.info("reconcile: listing %s for %s failed: %s", name, owner or "site", exc)
                # unknown is not gone: keep every VM this listing would have covered
                listed.update({v.external_id: None for v in known if v.owner == owner or not owner})
        for vm in known:
            if not vm.external_id or vm.state == store.CREATING or vm.external_id in listed:
                continue
            if DRY_RUN.get():
                pass  # a rehearsal reports it and changes nothing
            elif not await store.mark_if_still(
                vm, store.GONE, now=app.clock.now(), actor="reconcile", kind="vm.gone"
            ):
                continue  # released or changed meanwhile: not gone behind our back
            findings.append(
                Finding(
                    subject(vm),
                    "gone",
                    f"Your VM {vm.name} ({vm.describe()}) no longer exists on {name}: it was "
                    "deleted outside of me, so I marked it gone.",
                    notify=(vm.owner,),
                )
            )
        ids = {v.external_id for v in await store.listing(provider=name, live_only=False)}
        for external_id, item in listed.items():
            if item is None or external_id in ids:
                continue
            findings.append(
                Finding(
                    f"{name}:{external_id}",
                    "untracked",
                    f"{name} has a VM {item.name} ({external_id}) marked as created by me that "
                    "I have no record of. I have not touched it; please check who owns it.",
                    notify=_staff(app),
                )
            )
    return findings


# -- registration --------------------------------------------------------------------------------
def register_observers(scope: SkillScope) -> None:
    """Add the enabled observers when VMs can be created at all (warnings about a date are
    told once: their repeat interval is long)."""
    app = scope.app
    providers = _providers(app)
    if (
        not app.settings.observers.enabled
        or not vm_settings(app.settings).enabled
        or providers is None
        or not providers.names
    ):
        return  # nothing to watch without a VM provider
    settings = observer_settings(app.settings)
    chosen: list[tuple[Any, timedelta | None]] = []
    if settings.idle.enabled:
        chosen.append((IdleObserver(settings), None))
    if settings.expiry.enabled:
        chosen.append((ExpiryObserver(settings), ONCE))
    if settings.cleanup.enabled:
        chosen.append((CleanupObserver(settings), None))
    if settings.summary.enabled:
        chosen.append((SummaryObserver(settings), None))
    if settings.reconcile.enabled:
        chosen.append((ReconcileObserver(settings), ONCE))
    for observer, repeat in chosen:
        app.observers.add(observer, scope.skill, repeat_after=repeat)
    scope.on_close(lambda: app.observers.remove_owner(scope.skill))
    if settings.reconcile.enabled:

        async def at_start() -> None:
            if not DRY_RUN.get():  # a rehearsal (`observers run --dry-run`) changes nothing
                await app.observers.run(ReconcileObserver.name)

        app.background.submit("vms: reconcile at start", at_start, attempts=1)
