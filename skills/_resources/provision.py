"""Creating, extending and deleting VMs: the provider call, the row, the audit, in that order,
so that whatever happens at the provider is in the table.

A row is reserved (``creating``) before each create; success fills in the provider's id and
addresses, failure marks it ``failed`` with the reason. The first failure stops the rest (a
quota or a refused credential would fail them all), and the outcome says exactly what exists."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import UserError
from bot.providers import (
    Progress,
    ProviderError,
    ResourceNotFound,
    ResourceProvider,
    ResourceSpec,
    ResourceState,
    no_progress,
)
from skills._resources import keyring, store
from skills._resources.draft import Draft
from skills._resources.registry import ProviderRegistry, explain
from skills._resources.store import Vm

if TYPE_CHECKING:
    from bot.app import Application
    from bot.storage.models import User

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Outcome:
    """What one request produced: the created VMs, the one that failed and why, and how many
    were never tried after it."""

    wanted: int
    created: list[Vm] = field(default_factory=list)
    failed: Vm | None = None
    reason: str = ""
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return len(self.created) == self.wanted

    def report(self, login_user: str) -> str:
        lines = []
        if self.created:
            head = (
                f"Your VM{'s are' if len(self.created) != 1 else ' is'} ready"
                if self.ok
                else f"Created {len(self.created)} of {self.wanted} VMs"
            )
            lines.append(f"{head}:")
            lines += [ready_line(vm, login_user) for vm in self.created]
            keyless = [vm for vm in self.created if vm.ssh_key is False]
            if any(not vm.keys_on_file for vm in keyless):
                lines.append(
                    "You have no SSH key on file, so nobody can log in to "
                    f"{'them' if len(keyless) != 1 else 'it'} with ssh. To add one, "
                    f"{keyring.HOW_TO_ADD}; VMs you create after that get it."
                )
            elif keyless:
                lines.append(
                    f"{keyless[0].provider} does not put SSH keys into its VMs, so yours is "
                    f"not in {'them' if len(keyless) != 1 else 'it'}: log in the way that "
                    "provider's images allow."
                )
            expires = self.created[0].expires_at
            if expires is not None:
                lines.append(
                    f"{'They run' if len(self.created) != 1 else 'It runs'} until "
                    f"{expires:%Y-%m-%d %H:%M} UTC; say `extend {self.created[0].name} by 1 week` "
                    "to keep it longer."
                )
        if self.failed is not None:
            if not self.created:
                lines.append(f"I could not create your VM{'s' if self.wanted != 1 else ''}.")
            lines.append(f"{self.failed.name} failed: {self.reason}")
            if self.skipped:
                lines.append(
                    f"I did not try the remaining {self.skipped} after that; nothing else "
                    "was created."
                )
        return "\n".join(lines)


class _Named:
    """A ``Progress`` that puts the VM's name before each step (several VMs, one message)."""

    def __init__(self, progress: Progress, name: str) -> None:
        self.progress, self.name = progress, name

    async def __call__(self, step: str, detail: str = "") -> None:
        shown = "" if detail.endswith(self.name) else detail
        await self.progress(f"{self.name}: {step}", shown)


def login_hint(vm: Vm, login_user: str) -> str:
    """How to log in: ``ssh user@address`` with the image's login user, only when the owner's
    key went into the VM as the provider reported (rows from before keys were passed keep the
    old line)."""
    address = vm.addresses[0] if vm.addresses else None
    if address is None:
        return "no address yet"
    if vm.ssh_key is False:
        if vm.keys_on_file:
            return f"no SSH login ({vm.provider} does not take SSH keys)"
        return "no SSH login (no key was on file)"
    return f"log in with `ssh {vm.login_user or login_user}@{address}`"


def ready_line(vm: Vm, login_user: str) -> str:
    login = f" — {login_hint(vm, login_user)}"
    shown = ", ".join(vm.addresses) if vm.addresses else "no address"
    return f"• {vm.name} ({vm.describe()}): {shown}{login}"


def _spec(
    vm: Vm,
    draft: Draft,
    expires_at: datetime,
    request: str | None,
    ssh_keys: list[str],
    login_user: str,
) -> ResourceSpec:
    return ResourceSpec(
        "vm",
        vm.name,
        vm.owner,
        image=draft.image,
        flavor=draft.flavor,
        # a named flavor is the provider's to size; CPUs and memory only when asked for so
        cpus=None if draft.flavor else draft.cpus,
        memory_mb=None if draft.flavor or not draft.memory_gb else draft.memory_gb * 1024,
        expires_at=expires_at,
        extra={
            "quartermaster_id": vm.name,
            "request": request or "",
            "ssh_keys": ssh_keys,  # the owner's, for the VM's cloud-init seed
            "login_user": login_user,  # when the provider's image names none
        },
    )


async def create(
    app: Application,
    providers: ProviderRegistry,
    owner: User,
    draft: Draft,
    progress: Progress,
    *,
    actor: str,
    request_id: int | None = None,
    login_user: str = "ubuntu",
) -> Outcome:
    """Create ``draft.count`` VMs for ``owner``, with their SSH keys; ``MissingCredential``
    before anything starts when the provider needs a credential the owner has not stored."""
    assert draft.provider and draft.days and draft.count
    provider = providers.get(draft.provider)
    credential = await providers.credential_for(provider, owner.key)
    now = app.clock.now()
    expires_at = now + timedelta(days=draft.days)
    outcome = Outcome(draft.count)
    ssh_keys = await keyring.ssh_keys(app, owner.key)
    spec_data = {k: v for k, v in draft.to_dict().items() if k not in ("provider", "count", "days")}
    for index in range(draft.count):
        vm = await store.reserve(
            owner,
            provider.name,
            spec_data,
            now=now,
            expires_at=expires_at,
            actor=actor,
            request_id=request_id,
        )

        step = _Named(progress, vm.name)

        request = f"REQ-{request_id}" if request_id else None
        try:
            made = await provider.create(
                _spec(vm, draft, expires_at, request, ssh_keys, login_user),
                step,
                credential=credential,
            )
        except Exception as exc:
            if not isinstance(exc, ProviderError):
                log.exception("creating %s on %s failed", vm.name, provider.name)
            outcome.reason = explain(exc, provider)
            outcome.failed = await store.update(
                vm,
                store.FAILED,
                now=app.clock.now(),
                actor=actor,
                kind="vm.create",
                outcome="error",
                error=outcome.reason[:300],
            )
            outcome.skipped = draft.count - index - 1
            break
        state = (
            store.RUNNING if made.status.state == ResourceState.RUNNING else str(made.status.state)
        )
        outcome.created.append(
            await store.update(
                vm,
                state,
                now=app.clock.now(),
                actor=actor,
                kind="vm.create",
                external_id=made.external_id,
                addresses=list(made.status.addresses),
                login_user=str(made.details.get("login_user") or login_user),
                # what the provider says went in; one that does not say took none
                ssh_key=made.details.get("ssh_key") is True,
                keys_on_file=bool(ssh_keys),
            )
        )
    return outcome


async def delete(
    app: Application,
    providers: ProviderRegistry,
    vm: Vm,
    *,
    actor: str,
    state: str = store.RELEASED,
    progress: Progress = no_progress,
    tell_owner: str = "",
) -> Vm:
    """Delete ``vm`` at its provider with its owner's credential, then mark it ``state``.
    A VM the provider no longer has is marked all the same. ``tell_owner`` is a DM to the owner
    recorded with the new state (an outbox row: sent after the commit, by a running bot when
    this process has no chat platform)."""
    provider = providers.get(vm.provider)
    if vm.external_id:
        credential = await providers.credential_for(provider, vm.owner)
        try:
            await provider.delete(vm.external_id, progress, credential=credential)
        except ResourceNotFound:
            pass
        except Exception as exc:
            if not isinstance(exc, ProviderError):
                log.exception("deleting %s on %s failed", vm.name, provider.name)
            raise UserError(f"I could not delete {vm.name}: {explain(exc, provider)}") from None
    async with app.deliveries.recording():
        done = await store.update(vm, state, now=app.clock.now(), actor=actor, kind=f"vm.{state}")
        if tell_owner:
            await app.dm_later(vm.owner, tell_owner, key=f"vm:{vm.id}")
    return done


async def extend(
    app: Application, providers: ProviderRegistry, vm: Vm, until: datetime, *, actor: str
) -> Vm:
    provider: ResourceProvider = providers.get(vm.provider)
    if vm.external_id:
        credential = await providers.credential_for(provider, vm.owner)
        try:
            await provider.extend(vm.external_id, until, credential=credential)
        except Exception as exc:
            if not isinstance(exc, ProviderError):
                log.exception("extending %s on %s failed", vm.name, provider.name)
            raise UserError(f"I could not extend {vm.name}: {explain(exc, provider)}") from None
    return await store.update(
        vm, vm.state, now=app.clock.now(), actor=actor, kind="vm.extend", expires_at=until
    )
