"""The libvirt provider against libvirt's real ``test:///default`` driver (in-process, no daemon):
what the provider says it did is checked on a separate raw libvirt connection."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.errors import ConfigError, UserError
from bot.providers import (
    BackendUnavailable,
    InvalidSpec,
    ProviderError,
    QuotaExceeded,
    ResourceNotFound,
    ResourceProvider,
    ResourceSpec,
    ResourceState,
    StatusMessage,
    no_progress,
    provider_from_config,
)
from bot.testing import TestBot
from tests.conftest import Libvirtd

try:
    import libvirt
except ImportError:  # libvirt-python is a dependency: only a half-installed checkout lacks it
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip(
        "libvirt-python is not installed; `make install` builds it", allow_module_level=True
    )

from skills._providers.libvirt import LibvirtProvider, _Sample, cpu_percent
from skills._providers.libvirt_xml import NS

REPO = Path(__file__).resolve().parent.parent
EXPIRES = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)
Providers = Callable[..., Awaitable[LibvirtProvider]]


class Steps:
    """A ``Progress`` that remembers the steps."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, step: str, detail: str = "") -> None:
        self.seen.append((step, detail))


def vm(name: str = "vm-1", **kw: Any) -> ResourceSpec:
    kw.setdefault("image", "ubuntu-22.04")
    kw.setdefault("flavor", "m1.small")
    return ResourceSpec("vm", name, "test:alice", expires_at=EXPIRES, **kw)


@pytest.fixture
def raw() -> Iterator[Any]:
    """Our own connection to the same in-process test driver, to check the provider's work."""
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    conn = libvirt.open("test:///default")
    yield conn
    conn.close()


def metadata(dom: Any) -> dict[str, str]:
    bare = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NS)
    return {child.tag: child.text or "" for child in ET.fromstring(bare)}


# -- create -----------------------------------------------------------------------------------
async def test_create_defines_and_boots_a_vm_reporting_each_step(
    libvirt_provider: LibvirtProvider, raw: Any
) -> None:
    steps = Steps()
    made = await libvirt_provider.create(vm(), steps)

    dom = raw.lookupByUUIDString(made.external_id)
    prefix = libvirt_provider.settings.name_prefix
    assert dom.name() == f"{prefix}vm-1" and dom.isActive()
    state, maxmem_kib, _mem, vcpus, _cpu = dom.info()
    assert (state, maxmem_kib // 1024, vcpus) == (libvirt.VIR_DOMAIN_RUNNING, 2048, 1)
    assert metadata(dom) == {
        "name": "vm-1",
        "owner": "test:alice",
        "created": metadata(dom)["created"],
        "expires": EXPIRES.isoformat(),
        "image": "ubuntu-22.04",
        "flavor": "m1.small",
    }
    # a vda disk and a NIC with a MAC, so the driver's block and interface stats answer
    mac = ET.fromstring(dom.XMLDesc(0)).find("devices/interface/mac")
    assert mac is not None and len(dom.blockStats("vda")) == 5
    assert len(dom.interfaceStats(mac.get("address"))) == 8

    network = ET.fromstring(raw.networkLookupByName("default").XMLDesc(0)).find("ip")
    assert network is not None
    subnet = ipaddress.ip_network(f"{network.get('address')}/{network.get('netmask')}", False)
    (address,) = made.status.addresses
    assert ipaddress.ip_address(address) in subnet
    assert steps.seen == [
        ("defining", "vm-1"),
        ("booting", "vm-1"),
        ("address assigned", address),
        ("ready", "vm-1"),
    ]
    assert made.status.state is ResourceState.RUNNING and made.expires_at == EXPIRES
    assert made.details["cpus"] == 1 and made.details["memory_mb"] == 2048


async def test_progress_lands_in_one_edited_chat_message(
    libvirt_provider: LibvirtProvider, tmp_path: Path
) -> None:
    async with TestBot.create(tmp_path) as bot:
        status = StatusMessage(bot.app, "test", "vms", thread="t-1", title="Creating vm-2")
        made = await libvirt_provider.create(vm("vm-2", flavor="m1.tiny"), status)
        posted = [s for s in bot.sent if s.channel == "vms"]
    assert len(posted) == 1 and posted[0].thread == "t-1"
    assert posted[0].text == (
        "Creating vm-2\n✔ defining: vm-2\n✔ booting: vm-2\n"
        f"✔ address assigned: {made.status.addresses[0]}\n… ready: vm-2"
    )


async def test_sizes_come_from_flavors_or_explicit_cpus_and_memory(
    libvirt_providers: Providers, raw: Any
) -> None:
    provider = await libvirt_providers(
        flavors={"small": {"cpus": 1, "memory_mb": 256}, "big": {"cpus": 3, "memory_mb": 768}},
        images=["rocky-9"],
    )
    by_flavor = await provider.create(vm("a", flavor="big", image="Rocky 9"), no_progress)
    explicit = await provider.create(
        vm("b", flavor=None, image="rocky-9", cpus=2, memory_mb=512), no_progress
    )
    default = await provider.create(vm("c", flavor=None, image=None), no_progress)
    sizes = {
        r.name: raw.lookupByUUIDString(r.external_id).info()[1:4:2]
        for r in (by_flavor, explicit, default)
    }
    assert sizes == {"a": [768 * 1024, 3], "b": [512 * 1024, 2], "c": [256 * 1024, 1]}
    assert (by_flavor.details["image"], default.details["flavor"]) == ("rocky-9", "small")
    assert explicit.details["flavor"] is None


async def test_with_a_storage_pool_each_vm_gets_its_own_volume_removed_with_it(
    libvirt_providers: Providers, raw: Any
) -> None:
    provider = await libvirt_providers(storage_pool="default-pool")
    made = await provider.create(vm("vol", disk_gb=3), no_progress)
    path = metadata(raw.lookupByUUIDString(made.external_id))["volume"]
    volume = raw.storageVolLookupByPath(path)
    assert volume.info()[1] == 3 * 1024**3
    disk = ET.fromstring(raw.lookupByUUIDString(made.external_id).XMLDesc(0))
    assert disk.find("devices/disk/source").get("file") == path  # type: ignore[union-attr]

    await provider.delete(made.external_id, no_progress)
    with pytest.raises(libvirt.libvirtError):
        raw.storageVolLookupByPath(path)


async def test_on_the_test_driver_images_with_volumes_give_overlays_but_no_seed(
    libvirt_providers: Providers, raw: Any
) -> None:
    """The test driver's storage is simulated and takes no uploads: overlays are made (its pool
    records the backing store), the seed is left out, and nobody is promised a login."""
    pool = raw.storagePoolLookupByName("default-pool")
    image = pool.createXML(
        "<volume><name>img-" + uuid.uuid4().hex[:6] + "</name><capacity unit='GiB'>4</capacity>"
        "<target><format type='qcow2'/></target></volume>",
        0,
    )
    try:
        provider = await libvirt_providers(
            storage_pool="default-pool",
            images={"ubuntu-22.04": {"volume": image.name(), "login_user": "ubuntu"}},
        )
        made = await provider.create(vm("layered", flavor="m1.tiny"), no_progress)
        record = metadata(raw.lookupByUUIDString(made.external_id))
        overlay = ET.fromstring(raw.storageVolLookupByPath(record["volume"]).XMLDesc(0))
        assert overlay.findtext("backingStore/path") == image.path()
        assert overlay.findtext("capacity") == str(4 * 1024**3)  # never smaller than the image
        assert "seed" not in record and "login" not in record
        devices = ET.fromstring(raw.lookupByUUIDString(made.external_id).XMLDesc(0))
        assert [d.get("device") for d in devices.findall("devices/disk")] == ["disk"]
        assert made.details["seed"] is False and made.details["login_user"] == "ubuntu"
        image.delete(0)  # the site removed the image: refused, naming it
        with pytest.raises(InvalidSpec, match=r"image ubuntu-22\.04 is not on the libvirt host"):
            await provider.create(vm("lost", flavor="m1.tiny"), no_progress)
    finally:
        with contextlib.suppress(libvirt.libvirtError):
            image.delete(0)


# -- refusals people can read -------------------------------------------------------------------
async def test_unknown_flavor_image_or_name_is_invalid_spec_naming_what_exists(
    libvirt_provider: LibvirtProvider, raw: Any
) -> None:
    before = raw.numOfDefinedDomains() + raw.numOfDomains()
    with pytest.raises(InvalidSpec, match=r"no flavor 'm9\.huge'.*m1\.small \(1 CPU, 2 GiB\)"):
        await libvirt_provider.create(vm(flavor="m9.huge"), no_progress)
    with pytest.raises(InvalidSpec, match=r"no image 'windows-95'.*ubuntu-22\.04, ubuntu-24\.04"):
        await libvirt_provider.create(vm(image="windows-95"), no_progress)
    with pytest.raises(InvalidSpec, match="A VM name is"):
        await libvirt_provider.create(vm("../etc/passwd"), no_progress)
    with pytest.raises(InvalidSpec, match="not volumes"):
        await libvirt_provider.create(ResourceSpec("volume", "v", "test:alice"), no_progress)
    assert raw.numOfDefinedDomains() + raw.numOfDomains() == before


async def test_a_name_already_taken_is_a_clear_error_and_the_first_vm_stays(
    libvirt_provider: LibvirtProvider, raw: Any
) -> None:
    first = await libvirt_provider.create(vm("twin"), no_progress)
    with pytest.raises(ProviderError, match="already a VM called twin") as caught:
        await libvirt_provider.create(vm("twin", flavor="m1.tiny"), no_progress)
    assert type(caught.value) is ProviderError and isinstance(caught.value, UserError)
    assert raw.lookupByUUIDString(first.external_id).info()[1] == 2048 * 1024


async def test_limits_are_quota_exceeded_from_the_host_size_or_the_settings(
    libvirt_providers: Providers, raw: Any
) -> None:
    host_memory_mb = raw.getInfo()[1]  # the test driver's host pretends to have 3 GiB
    provider = await libvirt_providers()
    await provider.create(
        vm("fits", flavor=None, cpus=1, memory_mb=host_memory_mb - 512), no_progress
    )
    with pytest.raises(
        QuotaExceeded,
        match=rf"needs 1024 MiB of memory, but VMs on libvirt may use {host_memory_mb} MiB "
        rf"and 1 VM already use {host_memory_mb - 512} MiB",
    ):
        await provider.create(vm("spill", flavor=None, cpus=1, memory_mb=1024), no_progress)
    with pytest.raises(libvirt.libvirtError):
        raw.lookupByName(f"{provider.settings.name_prefix}spill")

    capped = await libvirt_providers(max_cpus=3, max_memory_mb=10**6)
    with pytest.raises(QuotaExceeded, match=r"needs 4 CPUs, but VMs on libvirt may use 3"):
        await capped.create(vm("wide", flavor="m1.large"), no_progress)


async def test_concurrent_creates_cannot_both_squeeze_past_the_limit(
    libvirt_providers: Providers,
) -> None:
    provider = await libvirt_providers(max_memory_mb=6000)
    results = await asyncio.gather(
        provider.create(vm("race-a", flavor="m1.medium"), no_progress),
        provider.create(vm("race-b", flavor="m1.medium"), no_progress),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ProvisionedResource", "QuotaExceeded"]
    assert len(await provider.list()) == 1


async def test_a_network_the_host_lacks_is_an_error_for_the_admin(
    libvirt_providers: Providers,
) -> None:
    provider = await libvirt_providers(network="nowhere")
    with pytest.raises(ProviderError, match=r"network 'nowhere' does not exist.*networks: default"):
        await provider.create(vm(), no_progress)
    assert await provider.list() == []


async def test_a_vm_that_fails_to_start_is_removed_again(
    libvirt_providers: Providers, raw: Any
) -> None:
    provider = await libvirt_providers(storage_pool="default-pool")
    name = f"{provider.settings.name_prefix}unlucky"

    async def meddle(step: str, detail: str = "") -> None:
        if step == "booting":  # someone else starts it first: libvirt refuses our start
            raw.lookupByName(name).create()

    with pytest.raises(ProviderError, match=r"libvirt could not start unlucky: .*already running"):
        await provider.create(vm("unlucky"), meddle)
    with pytest.raises(libvirt.libvirtError):
        raw.lookupByName(name)
    assert [v for v in raw.storagePoolLookupByName("default-pool").listVolumes() if name in v] == []
    assert await provider.list() == []


async def test_missing_vms_are_resource_not_found(libvirt_provider: LibvirtProvider) -> None:
    for missing in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(ResourceNotFound, match="libvirt has no VM"):
            await libvirt_provider.status(missing)
        with pytest.raises(ResourceNotFound):
            await libvirt_provider.usage(missing, datetime.now(UTC))
        with pytest.raises(ResourceNotFound):
            await libvirt_provider.extend(missing, EXPIRES)
        with pytest.raises(ResourceNotFound):
            await libvirt_provider.delete(missing, no_progress)


# -- status, usage ------------------------------------------------------------------------------
async def test_status_follows_the_domain_state(libvirt_provider: LibvirtProvider, raw: Any) -> None:
    made = await libvirt_provider.create(vm(), no_progress)
    dom = raw.lookupByUUIDString(made.external_id)
    running = await libvirt_provider.status(made.external_id)
    assert (running.state, running.addresses) == (ResourceState.RUNNING, made.status.addresses)
    dom.suspend()
    paused = await libvirt_provider.status(made.external_id)
    assert (paused.state, paused.detail, paused.addresses) == (ResourceState.STOPPED, "paused", ())
    dom.resume()
    dom.destroy()
    off = await libvirt_provider.status(made.external_id)
    assert (off.state, off.detail) == (ResourceState.STOPPED, "shut off")


async def test_usage_is_the_cpu_time_delta_between_samples(
    libvirt_providers: Providers, raw: Any
) -> None:
    provider = await libvirt_providers(usage_sample_seconds=0.2)
    made = await provider.create(vm(), no_progress)
    dom = raw.lookupByUUIDString(made.external_id)

    first = await provider.usage(made.external_id, datetime.now(UTC) - timedelta(hours=1))
    # the first call waits for a window of usage_sample_seconds before answering
    assert first.details["window_seconds"] >= 0.2
    assert first.until - first.since >= timedelta(seconds=0.2)
    # the test driver's counter stands still (a constant cpu_time): its VMs are idle
    assert first.details["cpu_time_ns"] == dom.getCPUStats(True)[0]["cpu_time"]
    assert first.cpu_percent == 0.0 and first.details["vcpus"] == 1

    await asyncio.sleep(0.25)
    second = await provider.usage(made.external_id, first.until)
    assert second.since <= first.until + timedelta(milliseconds=50)  # from the previous sample
    assert second.details["window_seconds"] >= 0.25

    dom.destroy()
    stopped = await provider.usage(made.external_id, first.until)
    assert (stopped.cpu_percent, stopped.details) == (0.0, {"state": "stopped"})


def test_cpu_percent_is_the_share_of_all_vcpus_used() -> None:
    second = 1_000_000_000
    assert cpu_percent(_Sample(10.0, 0), _Sample(12.0, 2 * second), vcpus=2) == 50.0
    assert cpu_percent(_Sample(10.0, 0), _Sample(11.0, 4 * second), vcpus=2) == 100.0  # capped
    assert cpu_percent(_Sample(10.0, 5), _Sample(10.0, 9), vcpus=1) == 0.0  # no window
    assert cpu_percent(_Sample(10.0, 0), _Sample(20.0, second), vcpus=4) == 2.5


# -- extend, delete, list -----------------------------------------------------------------------
async def test_extend_round_trips_through_the_domain_metadata(
    libvirt_providers: Providers, raw: Any
) -> None:
    provider = await libvirt_providers()
    made = await provider.create(vm(), no_progress)
    later = EXPIRES + timedelta(days=14)
    await provider.extend(made.external_id, later)
    dom = raw.lookupByUUIDString(made.external_id)
    assert metadata(dom)["expires"] == later.isoformat()
    # persistent config too, not only the live domain
    inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert later.isoformat() in inactive

    # a second provider (a restarted bot) reads it back from libvirt, not from memory
    again = await libvirt_providers()
    (listed,) = await again.list()
    assert (listed.external_id, listed.expires_at) == (made.external_id, later)

    dom.destroy()  # a stopped VM can be extended as well
    await provider.extend(made.external_id, later + timedelta(days=1))
    assert metadata(dom)["expires"] == (later + timedelta(days=1)).isoformat()


async def test_delete_destroys_and_undefines_with_progress(
    libvirt_provider: LibvirtProvider, raw: Any
) -> None:
    made = await libvirt_provider.create(vm(), no_progress)
    steps = Steps()
    await libvirt_provider.delete(made.external_id, steps)
    assert steps.seen == [("deleting", "vm-1"), ("deleted", "vm-1")]
    with pytest.raises(libvirt.libvirtError) as gone:
        raw.lookupByUUIDString(made.external_id)
    assert gone.value.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN
    with pytest.raises(ResourceNotFound):
        await libvirt_provider.status(made.external_id)
    assert await libvirt_provider.list() == []


async def test_list_sees_our_vms_only_and_never_touches_others(
    libvirt_providers: Providers, raw: Any
) -> None:
    ours = await libvirt_providers()
    other_bot = await libvirt_providers(name_prefix=f"qmo{uuid.uuid4().hex[:8]}-")
    a = await ours.create(vm("a"), no_progress)
    b = await ours.create(vm("b", flavor="m1.tiny"), no_progress)
    await other_bot.create(vm("elsewhere", flavor="m1.tiny"), no_progress)
    stranger = raw.defineXML(
        f"<domain type='test'><name>{ours.settings.name_prefix}hand-made</name>"
        "<memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='x86_64'>hvm</type></os></domain>"
    )
    try:
        listed = {r.name: r for r in await ours.list()}
        assert set(listed) == {"a", "b"}
        assert listed["a"].external_id == a.external_id
        assert listed["b"].details["owner"] == "test:alice"
        assert listed["b"].expires_at == EXPIRES
        assert listed["b"].status.state is ResourceState.RUNNING

        for act in (
            ours.delete(stranger.UUIDString(), no_progress),
            ours.extend(stranger.UUIDString(), EXPIRES),
        ):
            with pytest.raises(ProviderError, match="not created by Quartermaster"):
                await act
        assert raw.lookupByUUIDString(stranger.UUIDString()).name().endswith("hand-made")
        assert b.external_id in {r.external_id for r in await ours.list()}
    finally:
        stranger.undefine()


# -- the loop is never blocked, slow hosts time out -----------------------------------------------
@pytest.fixture
async def silent_libvirtd(tmp_path: Path) -> AsyncIterator[str]:
    """A unix socket that accepts libvirt clients and never answers: a hung daemon. Closing
    the connections at the end lets the stuck client threads return."""
    path = tmp_path / "libvirt-sock"
    clients: list[asyncio.StreamWriter] = []

    async def accept(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        clients.append(writer)

    server = await asyncio.start_unix_server(accept, str(path))
    yield f"test+unix:///default?socket={path}"
    server.close()
    for writer in clients:
        writer.close()
    await server.wait_closed()


async def test_a_host_that_does_not_answer_is_backend_unavailable_and_the_loop_runs_on(
    silent_libvirtd: str,
) -> None:
    provider = LibvirtProvider({"uri": silent_libvirtd, "timeout_seconds": 0.5})
    gaps: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticking = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"did not answer within 0\.5 s") as caught:
        await provider.create(vm(), no_progress)
    waited = time.monotonic() - started
    stop.set()
    await ticking
    assert 0.5 <= waited < 3.0
    # a blocked loop would stall for the whole call (forever, with this daemon)
    assert len(gaps) > 10 and max(gaps) < 0.4
    assert "test+unix" not in str(caught.value)  # the URI is for the log, not for users
    with pytest.raises(BackendUnavailable):
        await provider.list()
    await provider.close()


# -- configuration ----------------------------------------------------------------------------
def test_settings_are_checked_and_the_error_names_the_key() -> None:
    cases = {
        "max_memory_mb": {"max_memory_mb": -1},
        "timeout_seconds": {"timeout_seconds": "soon"},
        "flavors.big.cpus": {"flavors": {"big": {"memory_mb": 512}}},
        "images": {"images": []},
        "default_image": {"images": ["debian-12"], "default_image": "ubuntu-22.04"},
        "uri": {"uri": ""},
        "storage_poool": {"storage_poool": "x"},
        "images.ubuntu.volume": {"images": {"ubuntu": {"login_user": "ubuntu"}}},
        "images.ubuntu.login_user": {
            "images": {"ubuntu": {"volume": "u.img", "login_user": "Root!"}}
        },
        "images.ubuntu:": {"images": {"ubuntu": "u.img"}},
        "interface_type": {"interface_type": "bridge"},
    }
    for key, section in cases.items():
        with pytest.raises(ConfigError, match=rf"^providers\.libvirt: {key}"):
            provider_from_config("libvirt", {"libvirt": section})


async def test_the_shipped_configuration_creates_a_vm_with_no_set_up(raw: Any) -> None:
    settings = load_settings(REPO / "config" / "quartermaster.yml")
    provider = provider_from_config("libvirt", settings.providers)
    assert isinstance(provider, ResourceProvider) and provider.credential_name is None
    made = await provider.create(
        vm(f"qmt-demo-{uuid.uuid4().hex[:6]}", flavor="m1.tiny"), no_progress
    )
    try:
        assert raw.lookupByUUIDString(made.external_id).isActive()
    finally:
        await provider.delete(made.external_id, no_progress)
        await provider.close()


async def test_a_restarted_libvirtd_is_unavailable_then_reconnected_without_a_new_provider(
    libvirtd: Libvirtd, raw: Any
) -> None:
    provider = LibvirtProvider({"uri": libvirtd.uri, "timeout_seconds": 5})
    try:
        made = await provider.create(vm("shared"), no_progress)
        # the daemon's host is one for every process: another connection sees the VM
        other = await asyncio.to_thread(libvirt.open, libvirtd.uri)
        assert other.lookupByUUIDString(made.external_id).name() == "shared"
        other.close()
        with pytest.raises(libvirt.libvirtError):
            raw.lookupByUUIDString(made.external_id)  # not the in-process test driver

        await libvirtd.stop()
        with pytest.raises(BackendUnavailable, match="not reachable"):
            await provider.list()
        await libvirtd.start()
        assert await provider.list() == []  # a fresh daemon: the test driver starts empty
        again = await provider.create(vm("shared"), no_progress)
        assert [r.external_id for r in await provider.list()] == [again.external_id]
    finally:
        await provider.close()


def test_records_round_trip_and_old_ones_without_volumes_or_seed_still_read() -> None:
    from skills._providers.libvirt_xml import Record, record_from

    full = Record(
        "vm-9", "test:alice", EXPIRES, EXPIRES, "debian-12", "m1.tiny", "/p/d.qcow2",
        "/p/d-seed.iso", "debian",
    )  # fmt: skip
    assert record_from(full.element(qualified=True)) == full
    old = ET.fromstring(
        f"<resource xmlns='{NS}'><name>vm-1</name><owner>test:bob</owner>"
        f"<created>{EXPIRES.isoformat()}</created><image>rocky-9</image></resource>"
    )
    read = record_from(old)
    assert read is not None and (read.name, read.image) == ("vm-1", "rocky-9")
    assert (read.volume, read.seed, read.login, read.expires) == (None, None, None, None)
