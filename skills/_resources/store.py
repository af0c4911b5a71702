"""VMs in ``qm_resource``: every change of a row is written in the same transaction as its
audit record, so the table and the trail never disagree.

A VM's row is written *before* the provider is asked to create it (state ``creating``), so a
crash half-way leaves a row to reconcile, never an untracked machine. ``data`` holds what the
core table has no column for: provider, external id, spec, addresses, the creation time by the
bot's clock (``created``; ``created_at`` is the database's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from bot.errors import PermissionDenied, UserError
from bot.storage.models import AuditEvent, Resource, User

KIND = "vm"
CREATING, RUNNING, STOPPED, ERROR = "creating", "running", "stopped", "error"
FAILED, RELEASED, GONE, EXPIRED = "failed", "released", "gone", "expired"
#: states of a VM that exists (or may exist) at the provider
LIVE = (CREATING, RUNNING, STOPPED, ERROR)

_NAME = re.compile(r"vm-?(\d{1,9})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Vm:
    """A row as the skill reads it."""

    id: int
    name: str
    owner: str  # user key
    owner_name: str
    provider: str
    external_id: str
    state: str
    spec: dict[str, Any]
    addresses: tuple[str, ...]
    created: datetime | None
    expires_at: datetime | None
    request: str | None  # REQ-12
    idle_since: datetime | None = None  # kept by the idle observer while CPU stays low
    login_user: str | None = None  # the image's login user, as the provider reported it
    ssh_key: bool | None = None  # whether the owner's SSH key went in; None: an older row
    keys_on_file: bool | None = None  # whether the owner had a key when it was made

    @property
    def live(self) -> bool:
        return self.state in LIVE

    def describe(self) -> str:
        """E.g. "ubuntu-22.04, m1.large (4 CPUs, 8 GB)"."""
        spec = self.spec
        size = []
        if spec.get("cpus"):
            cpus = int(spec["cpus"])
            size.append(f"{cpus} CPU{'s' if cpus != 1 else ''}")
        if spec.get("memory_gb"):
            size.append(f"{int(spec['memory_gb'])} GB")
        parts = [str(spec.get("image") or "?")]
        if spec.get("flavor"):
            parts.append(str(spec["flavor"]) + (f" ({', '.join(size)})" if size else ""))
        elif size:
            parts.append(", ".join(size))
        return ", ".join(parts)


def parse_name(text: str) -> int | None:
    found = _NAME.fullmatch(text.strip()[:20])
    return int(found.group(1)) if found else None


async def _vm(row: Resource) -> Vm:
    await row.fetch_related("owner", "request")
    owner = row.owner
    data = dict(row.data or {})
    created = data.get("created")
    idle = data.get("idle_since")
    return Vm(
        id=row.id,
        name=row.name,
        owner=owner.key if isinstance(owner, User) else "",
        owner_name=owner.name if isinstance(owner, User) else "",
        provider=str(data.get("provider", "")),
        external_id=str(data.get("external_id", "")),
        state=row.state,
        spec=dict(data.get("spec") or {}),
        addresses=tuple(data.get("addresses") or ()),
        created=datetime.fromisoformat(created) if isinstance(created, str) else None,
        expires_at=row.expires_at,
        request=f"REQ-{row.request.id}" if row.request is not None else None,
        idle_since=datetime.fromisoformat(idle) if isinstance(idle, str) else None,
        login_user=str(data["login_user"]) if data.get("login_user") else None,
        ssh_key=bool(data["ssh_key"]) if "ssh_key" in data else None,
        keys_on_file=bool(data["keys_on_file"]) if "keys_on_file" in data else None,
    )


async def _audit(
    conn: Any, at: datetime, actor: str, kind: str, target: str, **detail: Any
) -> None:
    outcome = str(detail.pop("outcome", "ok"))
    await AuditEvent.create(
        at=at, actor=actor, kind=kind, target=target, outcome=outcome, detail=detail, using_db=conn
    )


async def reserve(
    owner: User,
    provider: str,
    spec: dict[str, Any],
    *,
    now: datetime,
    expires_at: datetime,
    actor: str,
    request_id: int | None = None,
) -> Vm:
    """A row in state ``creating``, named ``vm-<id>``, before the provider is asked."""
    async with in_transaction() as conn:
        row = await Resource.create(
            kind=KIND,
            name="vm-new",
            owner=owner,
            request_id=request_id,
            state=CREATING,
            data={
                "provider": provider,
                "external_id": "",
                "spec": spec,
                "created": now.isoformat(),
            },
            expires_at=expires_at,
            using_db=conn,
        )
        row.name = f"vm-{row.id}"
        await row.save(using_db=conn, update_fields=["name"])
        await _audit(conn, now, actor, "vm.reserve", row.name, provider=provider, owner=owner.key)
    return await _vm(row)


async def update(
    vm: Vm,
    state: str,
    *,
    now: datetime,
    actor: str,
    kind: str,
    expires_at: datetime | None = None,
    **data: Any,
) -> Vm:
    """Move ``vm`` to ``state`` (and merge ``data``), with its audit record, in one transaction."""
    found = await _write(vm, state, now, actor, kind, expires_at, None, data)
    assert found is not None
    return found


async def mark_if_still(vm: Vm, state: str, *, now: datetime, actor: str, kind: str) -> bool:
    """Move ``vm`` to ``state`` only if its row is still as ``vm`` was read: an observer's
    conclusion never overwrites what someone did meanwhile (a release, an extension)."""
    return await _write(vm, state, now, actor, kind, None, vm.state, {}) is not None


async def _write(
    vm: Vm,
    state: str,
    now: datetime,
    actor: str,
    kind: str,
    expires_at: datetime | None,
    only_if: str | None,
    data: dict[str, Any],
) -> Vm | None:
    async with in_transaction() as conn:
        row = await Resource.select_for_update().using_db(conn).get(id=vm.id)
        if only_if is not None and row.state != only_if:
            return None
        row.state = state
        row.data = {**(row.data or {}), **data}
        fields = ["state", "data", "updated_at"]
        if expires_at is not None:
            row.expires_at = expires_at
            fields.append("expires_at")
        await row.save(using_db=conn, update_fields=fields)
        detail = {k: v for k, v in data.items() if k in ("external_id", "error", "addresses")}
        if expires_at is not None:
            detail["expires_at"] = expires_at.isoformat()
        await _audit(conn, now, actor, kind, vm.name, state=state, **detail)
    return await _vm(row)


async def get(vm_id: int) -> Vm | None:
    row = await Resource.get_or_none(id=vm_id, kind=KIND)
    return await _vm(row) if row is not None else None


async def find(name: str, user_key: str, *, see_all: bool) -> Vm:
    """The VM called ``name`` that ``user_key`` may see; ``UserError`` otherwise (the same
    answer for "not yours" and "no such VM", so names of others' VMs don't leak)."""
    number = parse_name(name)
    vm = await get(number) if number is not None else None
    if vm is None or (vm.owner != user_key and not see_all):
        raise UserError(f"You have no VM called {name[:20]}. Say `list my vms` to see yours.")
    return vm


def check_owner(vm: Vm, user_key: str, *, staff: bool) -> None:
    if vm.owner != user_key and not staff:
        raise PermissionDenied(f"{vm.name} is not yours.")


async def listing(
    owner_key: str | None = None, *, live_only: bool = True, provider: str | None = None
) -> list[Vm]:
    query = Resource.filter(kind=KIND)
    if live_only:
        query = query.filter(state__in=LIVE)
    if owner_key is not None:
        platform, _, platform_id = owner_key.partition(":")
        query = query.filter(owner__platform=platform, owner__platform_id=platform_id)
    vms = [await _vm(row) for row in await query.order_by("id")]
    return [v for v in vms if provider is None or v.provider == provider]
