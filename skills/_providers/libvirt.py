"""VMs on a libvirt host (``providers: {libvirt: {uri: …}}``), through libvirt-python.

The default URI is libvirt's ``test:///default`` driver: real libvirt code in-process with no
daemon, so a fresh clone can create VMs from the terminal chat. Its state lives only while a
connection is open, hence one connection for the provider's life, closed in ``close``.

libvirt-python blocks, so every call runs in ``asyncio.to_thread`` under ``timeout_seconds``;
a call that does not come back in time is a ``BackendUnavailable`` for the user, while the
event loop carries on. Domains we create carry a Quartermaster record in their metadata
(``libvirt_xml.Record``): only those are listed, extended or deleted, never anyone else's.

On a real host each VM's disk is a qcow2 overlay on its image's volume, and a cloud-init seed
(``cloud_init``) with the requester's SSH keys (``ResourceSpec.extra["ssh_keys"]``) is uploaded
next to it and attached as a cdrom (``libvirt_storage``); both volumes are removed with the VM.
The test driver's storage is simulated and takes no uploads, so there the seed is left out.
See docs/resources.md "## libvirt" and "### A real host".
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import uuid4

import libvirt

from bot.providers import (
    BackendUnavailable,
    Credential,
    InvalidSpec,
    Progress,
    ProviderError,
    ProvisionedResource,
    QuotaExceeded,
    ResourceNotFound,
    ResourceSpec,
    ResourceState,
    ResourceStatus,
    Usage,
)

from . import libvirt_storage as storage
from .cloud_init import seed_iso
from .libvirt_settings import Flavor, LibvirtSettings, parse
from .libvirt_xml import NS, PREFIX, DomainFacts, Record, domain_xml, parse_domain, random_mac
from .ssh_keys import BadKey, parse_public_key

log = logging.getLogger(__name__)
T = TypeVar("T")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_ADDRESS_POLL_SECONDS = 0.5
# libvirt errors that mean "the host/daemon is not there", as opposed to "it said no"
_UNREACHABLE = frozenset(
    {
        libvirt.VIR_ERR_SYSTEM_ERROR,
        libvirt.VIR_ERR_RPC,
        libvirt.VIR_ERR_NO_CONNECT,
        libvirt.VIR_ERR_AUTH_FAILED,
        libvirt.VIR_ERR_OPERATION_TIMEOUT,
    }
)
_NOT_FOUND = frozenset({libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG})
_STATES: dict[int, tuple[ResourceState, str]] = {
    libvirt.VIR_DOMAIN_NOSTATE: (ResourceState.CREATING, "no state yet"),
    libvirt.VIR_DOMAIN_RUNNING: (ResourceState.RUNNING, "running"),
    libvirt.VIR_DOMAIN_BLOCKED: (ResourceState.RUNNING, "running (blocked on I/O)"),
    libvirt.VIR_DOMAIN_PAUSED: (ResourceState.STOPPED, "paused"),
    libvirt.VIR_DOMAIN_SHUTDOWN: (ResourceState.STOPPED, "shutting down"),
    libvirt.VIR_DOMAIN_SHUTOFF: (ResourceState.STOPPED, "shut off"),
    libvirt.VIR_DOMAIN_CRASHED: (ResourceState.ERROR, "crashed"),
    libvirt.VIR_DOMAIN_PMSUSPENDED: (ResourceState.STOPPED, "suspended"),
}


def _quiet(_ctx: object, _error: object) -> None:
    """libvirt prints every error to stderr by default; ours are raised and logged instead."""


libvirt.registerErrorHandler(_quiet, None)


@dataclass(frozen=True, slots=True)
class _Sample:
    at: float  # time.monotonic()
    cpu_time_ns: int


@dataclass(frozen=True, slots=True)
class _Disk:
    """What a VM's disks are made from: the image volume (None on the test driver's demo),
    the login user and keys for its cloud-init seed (no seed when ``seed`` is False)."""

    backing: storage.ImageVolume | None
    login_user: str
    ssh_keys: tuple[str, ...]
    seed: bool


@dataclass(frozen=True, slots=True)
class _Host:
    cpus: int
    memory_mb: int
    networks: tuple[str, ...]
    domains: tuple[DomainFacts, ...]


def cpu_percent(before: _Sample, after: _Sample, vcpus: int) -> float:
    """Share of the domain's vCPUs used between two samples, 0–100."""
    elapsed = after.at - before.at
    if elapsed <= 0 or vcpus <= 0:
        return 0.0
    used = (after.cpu_time_ns - before.cpu_time_ns) / (elapsed * 1e9 * vcpus) * 100
    return max(0.0, min(100.0, used))


class LibvirtProvider:
    """The ``libvirt`` provider: acts as the site (no per-user credential)."""

    name = "libvirt"
    credential_name: str | None = None

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.settings: LibvirtSettings = parse(config)
        self._conn: Any = None
        self._domain_type = self.settings.domain_type or "kvm"
        self._connecting = asyncio.Lock()
        self._defining = asyncio.Lock()  # the quota check and the define are one step
        self._samples: dict[str, _Sample] = {}
        self._suspect = False  # a call failed: check the connection before the next one

    # -- plumbing ----------------------------------------------------------------------------
    async def _call(self, what: str, fn: Callable[..., T], *args: Any, subject: str = "") -> T:
        """Run one blocking libvirt step off the loop, bounded; errors become sentences."""
        timeout = self.settings.timeout_seconds
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args), timeout)
        except TimeoutError:
            self._suspect = True
            log.warning("libvirt: %s timed out after %gs", what, timeout)
            raise BackendUnavailable(
                f"The libvirt host did not answer within {timeout:g} s (while trying to "
                f"{what}); try again in a few minutes."
            ) from None
        except libvirt.libvirtError as exc:
            self._suspect = True
            raise self._translate(exc, what, subject) from None

    def _translate(self, exc: libvirt.libvirtError, what: str, subject: str) -> ProviderError:
        code = exc.get_error_code()
        log.warning("libvirt: could not %s: [%s] %s", what, code, exc.get_error_message())
        if code in _NOT_FOUND and subject:
            return ResourceNotFound(
                f"libvirt has no VM {subject}; it may have been deleted outside Quartermaster."
            )
        if code in _UNREACHABLE:
            return BackendUnavailable(
                f"The libvirt host is not reachable (while trying to {what}); "
                "try again in a few minutes."
            )
        return ProviderError(f"libvirt could not {what}: {exc.get_error_message()}")

    async def _connection(self) -> Any:
        """The one open connection; after a failure it is checked, and replaced when the
        daemon behind it went away (a restarted libvirtd does not end the provider)."""
        if self._suspect and self._conn is not None:
            async with self._connecting:
                await self._drop_if_dead()
        if self._conn is None:
            async with self._connecting:
                if self._conn is None:
                    try:
                        conn = await self._call("connect", libvirt.open, self.settings.uri)
                    except ProviderError:
                        log.warning("libvirt: cannot connect to %s", self.settings.uri)
                        raise
                    if self.settings.domain_type is None:
                        driver = await self._call("connect", conn.getType)
                        kind = driver.lower()  # "test", "qemu", "xen", "lxc", …
                        self._domain_type = {"qemu": "kvm"}.get(kind, kind)
                    self._conn = conn
        return self._conn

    async def _drop_if_dead(self) -> None:
        conn = self._conn
        if conn is None or not self._suspect:
            return
        self._suspect = False
        try:
            alive = await self._call("check the connection", conn.isAlive) == 1
        except ProviderError:
            alive = False
        if not alive:
            log.warning("libvirt: the connection to %s is dead; reconnecting", self.settings.uri)
            self._conn = None
            self._suspect = False
            with contextlib.suppress(ProviderError):
                await self._call("close the dead connection", conn.close)

    async def _domain(self, external_id: str) -> Any:
        conn = await self._connection()
        return await self._call(
            "look the VM up", conn.lookupByUUIDString, external_id, subject=external_id
        )

    def _ours(self, facts: DomainFacts) -> bool:
        return facts.record is not None and facts.name.startswith(self.settings.name_prefix)

    # -- create ------------------------------------------------------------------------------
    async def create(
        self, spec: ResourceSpec, progress: Progress, *, credential: Credential | None = None
    ) -> ProvisionedResource:
        image, flavor_name, size = self._resolve(spec)
        keys = _keys(spec)
        domain_name = self.settings.name_prefix + spec.name
        conn = await self._connection()
        record = Record(
            name=spec.name,
            owner=spec.owner,
            created=datetime.now(UTC),
            expires=spec.expires_at,
            image=image,
            flavor=flavor_name,
        )
        # refuse before any progress is shown; check again under the lock, where the define
        # happens, because another request may have taken the room in between
        host = await self._call("read the host's capacity", self._host_sync, conn)
        self._check_free(host, domain_name, spec.name, size)
        disk = await self._disk(conn, image, spec, keys)
        await progress("defining", spec.name)
        async with self._defining:
            host = await self._call("read the host's capacity", self._host_sync, conn)
            self._check_free(host, domain_name, spec.name, size)
            dom, uuid, record = await self._call(
                f"define {spec.name}", self._define_sync, conn, domain_name, record, size, disk
            )
        await progress("booting", spec.name)
        try:
            await self._call(f"start {spec.name}", dom.create)
        except ProviderError:
            await self._discard(dom, record)
            raise
        addresses = await self._wait_for_addresses(dom, spec.name)
        if addresses:
            await progress("address assigned", ", ".join(addresses))
        await progress("ready", spec.name)
        return ProvisionedResource(
            provider=self.name,
            external_id=uuid,
            name=spec.name,
            status=ResourceStatus(ResourceState.RUNNING, "running", tuple(addresses)),
            expires_at=spec.expires_at,
            details={
                "domain": domain_name,
                "owner": spec.owner,
                "image": image,
                "flavor": flavor_name,
                "cpus": size.cpus,
                "memory_mb": size.memory_mb,
                "disk_gb": size.disk_gb,
                "login_user": disk.login_user,
                "ssh_keys": len(disk.ssh_keys) if disk.seed else 0,
                # the ready message's ``ssh`` line: on a real host the keys are in the seed; the
                # test driver boots nothing, and its line stays the demo it always was
                "ssh_key": bool(disk.ssh_keys),
                "seed": disk.seed,
            },
        )

    async def _disk(self, conn: Any, image: str, spec: ResourceSpec, keys: list[str]) -> _Disk:
        """Find the image volume before anything is created. On a real host every image must
        map to a volume (or nothing could boot); the test driver keeps its empty-disk demo and
        gets no seed, because it cannot take a volume upload."""
        s = self.settings
        source = s.image_sources.get(image)
        real = self._domain_type != "test"
        wanted = spec.extra.get("login_user")
        login = (source.login_user if source else None) or (
            wanted if isinstance(wanted, str) and wanted else "ubuntu"
        )
        if real and source is None:
            raise InvalidSpec(
                f"The image {image} has no volume on this libvirt host, so a VM could not boot "
                f"from it. An admin must map it to one: providers.libvirt.images.{image}.volume "
                "(docs/resources.md, 'A real host')."
            )
        if real and s.storage_pool is None:
            raise ProviderError(
                "providers.libvirt.storage_pool is not set, so there is nowhere to put the VMs' "
                "disks; an admin must set it (docs/resources.md, 'A real host')."
            )
        backing = None
        if source is not None:
            backing = await self._call(
                f"find the image {image}", storage.find_image, conn, image, source, s.storage_pool
            )
        return _Disk(backing, login, tuple(keys), seed=real)

    def _resolve(self, spec: ResourceSpec) -> tuple[str, str | None, Flavor]:
        """Image, flavor name and size from the spec; ``InvalidSpec`` names what exists."""
        s = self.settings
        if spec.kind != "vm":
            raise InvalidSpec(f"libvirt makes VMs, not {spec.kind}s.")
        if not _NAME.fullmatch(spec.name):
            raise InvalidSpec(
                "A VM name is 1–63 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit."
            )
        image = s.default_image
        if spec.image is not None:
            wanted = "-".join(spec.image.strip().lower().split())[:100]
            found = next((i for i in s.images if i.lower() == wanted), None)
            if found is None:
                raise InvalidSpec(
                    f"There is no image {spec.image[:100]!r} on libvirt; "
                    f"images: {', '.join(s.images)}."
                )
            image = found
        flavor_name: str | None = None
        if spec.flavor is not None:
            flavor_name = spec.flavor.strip().lower()[:100]
            if flavor_name not in s.flavors:
                raise InvalidSpec(
                    f"There is no flavor {spec.flavor[:100]!r} on libvirt; flavors: "
                    + ", ".join(f"{n} ({_size(f)})" for n, f in s.flavors.items())
                    + "."
                )
            base = s.flavors[flavor_name]
        elif spec.cpus is None and spec.memory_mb is None:
            flavor_name = s.default_flavor
            base = s.flavors[flavor_name]
        else:
            base = s.flavors[s.default_flavor]
        size = Flavor(
            spec.cpus if spec.cpus is not None else base.cpus,
            spec.memory_mb if spec.memory_mb is not None else base.memory_mb,
            spec.disk_gb if spec.disk_gb is not None else base.disk_gb,
        )
        if min(size.cpus, size.memory_mb, size.disk_gb) <= 0:
            raise InvalidSpec("CPUs, memory and disk must all be more than zero.")
        return image, flavor_name, size

    def _host_sync(self, conn: Any) -> _Host:
        info = conn.getInfo()  # [model, memory MiB, cpus, MHz, nodes, sockets, cores, threads]
        domains = tuple(parse_domain(d.XMLDesc(0)) for d in conn.listAllDomains(0))
        return _Host(int(info[2]), int(info[1]), tuple(conn.listNetworks()), domains)

    def _check_free(self, host: _Host, domain_name: str, name: str, size: Flavor) -> None:
        """Name clashes, the network, and the limits: configured, or the host's own size.
        Only our domains count against the limits (they are Quartermaster's share)."""
        if any(d.name == domain_name for d in host.domains):
            raise ProviderError(
                f"There is already a VM called {name} on libvirt; choose another name."
            )
        if self.settings.interface_type == "network" and self.settings.network not in host.networks:
            raise ProviderError(
                f"The libvirt network {self.settings.network!r} does not exist on the host "
                f"(networks: {', '.join(host.networks) or 'none'}); an admin must fix "
                "providers.libvirt.network."
            )
        ours = [d for d in host.domains if self._ours(d)]
        max_cpus = self.settings.max_cpus or host.cpus
        max_memory = self.settings.max_memory_mb or host.memory_mb
        used_cpus = sum(d.vcpus for d in ours)
        used_memory = sum(d.memory_mb for d in ours)
        vms = _count(len(ours), "VM")
        if used_cpus + size.cpus > max_cpus:
            raise QuotaExceeded(
                f"{name} needs {_count(size.cpus, 'CPU')}, but VMs on libvirt may use "
                f"{max_cpus} and {vms} already use {used_cpus}; release one or ask for fewer "
                "CPUs."
            )
        if used_memory + size.memory_mb > max_memory:
            raise QuotaExceeded(
                f"{name} needs {size.memory_mb} MiB of memory, but VMs on libvirt may use "
                f"{max_memory} MiB and {vms} already use {used_memory} MiB; release one or "
                "ask for less memory."
            )

    def _define_sync(
        self, conn: Any, domain_name: str, record: Record, size: Flavor, disk: _Disk
    ) -> tuple[Any, str, Record]:
        """Disk volume (an overlay on the image), seed volume, then the domain; whatever was
        made is removed again when a later step fails."""
        pool = self.settings.storage_pool
        disk_path = f"/var/lib/libvirt/images/{domain_name}.qcow2"
        uuid = str(uuid4())
        made: list[Any] = []
        try:
            if pool is not None:
                volume = storage.create_disk(
                    conn, pool, f"{domain_name}.qcow2", size.disk_gb * 1024**3, disk.backing
                )
                made.append(volume)
                disk_path = volume.path()
                record = replace(record, volume=disk_path)
            seed_path = None
            if disk.seed and pool is not None:
                iso = seed_iso(
                    instance_id=uuid,
                    hostname=record.name,
                    login_user=disk.login_user,
                    ssh_keys=disk.ssh_keys,
                )
                seed = storage.upload(conn, pool, f"{domain_name}-seed.iso", iso)
                made.append(seed)
                seed_path = seed.path()
                record = replace(record, seed=seed_path)
            if disk.seed and disk.ssh_keys:
                record = replace(record, login=disk.login_user)
            xml = domain_xml(
                domain_name=domain_name,
                domain_type=self._domain_type,
                cpus=size.cpus,
                memory_mb=size.memory_mb,
                disk_path=disk_path,
                network=self.settings.network,
                mac=random_mac(),
                record=record,
                uuid=uuid,
                seed_path=seed_path,
                interface_type=self.settings.interface_type,
            )
            dom = conn.defineXML(xml)
            return dom, dom.UUIDString(), record
        except BaseException:
            for volume in reversed(made):
                with contextlib.suppress(libvirt.libvirtError):
                    volume.delete(0)
            raise

    async def _discard(self, dom: Any, record: Record) -> None:
        """Undo a define whose start failed, so nothing is left that nobody tracks."""
        try:
            await self._call("remove the VM that did not start", self._remove_sync, dom, record)
        except ProviderError as exc:
            log.warning("libvirt: %s stays defined after a failed start: %s", record.name, exc)

    async def _wait_for_addresses(self, dom: Any, name: str) -> list[str]:
        """Poll the DHCP lease (then the guest agent) until an address shows up or
        ``boot_timeout_seconds`` pass; a VM without an address yet is still created. With
        user-mode networking the guest's address is private to QEMU: none to wait for."""
        if self.settings.interface_type == "user":
            return []
        deadline = time.monotonic() + self.settings.boot_timeout_seconds
        while True:
            addresses = await self._call(
                f"read {name}'s addresses", self._addresses_sync, dom, subject=name
            )
            if addresses or time.monotonic() >= deadline:
                return addresses
            await asyncio.sleep(_ADDRESS_POLL_SECONDS)

    @staticmethod
    def _addresses_sync(dom: Any) -> list[str]:
        if not dom.isActive():
            return []
        for source in (
            libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
            libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
        ):
            try:
                interfaces = dom.interfaceAddresses(source, 0)
            except libvirt.libvirtError:
                continue  # no agent in the guest, or a driver without leases
            found = [
                a["addr"]
                for iface in (interfaces or {}).values()
                for a in (iface.get("addrs") or [])
                if a.get("addr") and not a["addr"].startswith(("127.", "::1", "fe80:"))
            ]
            if found:
                return found
        return []

    # -- status, usage -----------------------------------------------------------------------
    async def status(
        self, external_id: str, *, credential: Credential | None = None
    ) -> ResourceStatus:
        dom = await self._domain(external_id)
        return await self._call("read the VM's state", self._status_sync, dom, subject=external_id)

    def _status_sync(self, dom: Any) -> ResourceStatus:
        state, _reason = dom.state()
        mapped, detail = _STATES.get(state, (ResourceState.ERROR, f"unknown state {state}"))
        addresses = self._addresses_sync(dom) if mapped is ResourceState.RUNNING else []
        return ResourceStatus(mapped, detail, tuple(addresses))

    async def usage(
        self, external_id: str, since: datetime, *, credential: Credential | None = None
    ) -> Usage:
        """CPU use since the previous sample of this VM, over at least ``usage_sample_seconds``
        (the first call samples twice that far apart, without blocking the loop). ``since`` is
        the caller's wish; the window actually measured is ``Usage.since``/``until``."""
        dom = await self._domain(external_id)
        current = await self._sample(dom, external_id)
        if current is None:
            self._samples.pop(external_id, None)
            now = datetime.now(UTC)
            return Usage(0.0, now, now, {"state": "stopped"})
        before = self._samples.get(external_id)
        if before is None or before.cpu_time_ns > current[0].cpu_time_ns:  # first, or rebooted
            before = current[0]
        wait = self.settings.usage_sample_seconds - (time.monotonic() - before.at)
        if wait > 0:  # too short a window says nothing: wait for the rest of it
            await asyncio.sleep(wait)
            current = await self._sample(dom, external_id)
            if current is None:
                now = datetime.now(UTC)
                return Usage(0.0, now, now, {"state": "stopped"})
        sample, vcpus = current
        self._samples[external_id] = sample
        elapsed = sample.at - before.at
        until = datetime.now(UTC)
        return Usage(
            cpu_percent(before, sample, vcpus),
            since=until - timedelta(seconds=time.monotonic() - before.at),
            until=until,
            details={
                "vcpus": vcpus,
                "cpu_time_ns": sample.cpu_time_ns,
                "window_seconds": round(elapsed, 3),
            },
        )

    async def _sample(self, dom: Any, external_id: str) -> tuple[_Sample, int] | None:
        return await self._call("read CPU counters", self._sample_sync, dom, subject=external_id)

    @staticmethod
    def _sample_sync(dom: Any) -> tuple[_Sample, int] | None:
        if not dom.isActive():
            return None
        total = dom.getCPUStats(True)[0]
        vcpus = int(dom.info()[3])
        return _Sample(time.monotonic(), int(total.get("cpu_time", 0))), vcpus

    # -- extend, delete ----------------------------------------------------------------------
    async def extend(
        self, external_id: str, until: datetime, *, credential: Credential | None = None
    ) -> None:
        dom = await self._domain(external_id)
        await self._call("change the expiry", self._extend_sync, dom, until, subject=external_id)

    def _extend_sync(self, dom: Any, until: datetime) -> None:
        record = self._record_sync(dom)
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if dom.isActive():
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        dom.setMetadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, record.with_expiry(until).xml(), PREFIX, NS, flags
        )

    def _record_sync(self, dom: Any) -> Record:
        """Our record of a domain; refuse domains that are not ours (never touch those)."""
        facts = parse_domain(dom.XMLDesc(0))
        if facts.record is None or not self._ours(facts):
            raise ProviderError(
                f"The libvirt VM {facts.name} was not created by Quartermaster; I leave it alone."
            )
        return facts.record

    async def delete(
        self, external_id: str, progress: Progress, *, credential: Credential | None = None
    ) -> None:
        dom = await self._domain(external_id)
        record = await self._call(
            "read the VM's record", self._record_sync, dom, subject=external_id
        )
        await progress("deleting", record.name)
        await self._call(
            f"delete {record.name}", self._remove_sync, dom, record, subject=record.name
        )
        self._samples.pop(external_id, None)
        await progress("deleted", record.name)

    @staticmethod
    def _remove_sync(dom: Any, record: Record) -> None:
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(
            libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
            | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
        )
        paths = [p for p in (record.volume, record.seed) if p]
        storage.delete_paths(dom.connect(), paths, record.name)

    # -- list, close -------------------------------------------------------------------------
    async def list(self, *, credential: Credential | None = None) -> list[ProvisionedResource]:
        conn = await self._connection()
        return await self._call("list the VMs", self._list_sync, conn)

    def _list_sync(self, conn: Any) -> builtins.list[ProvisionedResource]:
        found = []
        for dom in conn.listAllDomains(0):
            facts = parse_domain(dom.XMLDesc(0))
            if facts.record is None or not self._ours(facts):
                continue
            state, _reason = dom.state()
            mapped, detail = _STATES.get(state, (ResourceState.ERROR, f"unknown state {state}"))
            record = facts.record
            found.append(
                ProvisionedResource(
                    provider=self.name,
                    external_id=facts.uuid,
                    name=record.name,
                    status=ResourceStatus(mapped, detail),
                    expires_at=record.expires,
                    details={
                        "domain": facts.name,
                        "owner": record.owner,
                        "created": record.created,
                        "image": record.image,
                        "flavor": record.flavor,
                        "login_user": record.login,
                        "cpus": facts.vcpus,
                        "memory_mb": facts.memory_mb,
                    },
                )
            )
        return found

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._samples.clear()
        if conn is not None:
            try:
                await self._call("disconnect", conn.close)
            except ProviderError as exc:
                log.warning("libvirt: closing the connection failed: %s", exc)


def _keys(spec: ResourceSpec) -> list[str]:
    """The requester's SSH public keys from ``spec.extra["ssh_keys"]``, checked again here."""
    given = spec.extra.get("ssh_keys") or []
    if isinstance(given, str) or not isinstance(given, list | tuple):
        raise InvalidSpec("ssh_keys must be a list of SSH public keys.")
    try:
        return [parse_public_key(str(k)) for k in given[:10]]
    except BadKey as exc:
        raise InvalidSpec(f"An SSH key given for {spec.name} is not usable: {exc}") from None


def _size(flavor: Flavor) -> str:
    return f"{flavor.cpus} CPU, {flavor.memory_mb / 1024:g} GiB"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
