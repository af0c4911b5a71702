"""VMs on a real libvirt host's storage: a private session-mode libvirtd (QEMU driver, the real
``dir`` pool backend, ``qemu-img``) in a throwaway directory. Each VM's disk must be a qcow2
overlay on the image's volume, sized right; its cloud-init seed an ISO labelled ``cidata`` with
the login user and the requester's key; both removed with the VM; a missing image refused before
anything is made. QEMU really starts each guest (user-mode networking, TCG) — but the "image" is
an empty qcow2 disk, so nothing boots: no cloud image can be fetched offline."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.providers import InvalidSpec, ProviderError, ResourceSpec, no_progress
from tests.conftest import IN_CI, SessionLibvirtd

try:
    from skills._providers.cloud_init import read_seed
    from skills._providers.libvirt import LibvirtProvider
except ImportError:  # libvirt-python is a dependency: only a half-installed checkout lacks it
    if IN_CI:
        raise
    pytest.skip(
        "libvirt-python is not installed; `make install` builds it", allow_module_level=True
    )

EXPIRES = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)
GiB = 1024**3
IMAGE_GiB = 2


def public_key(comment: str = "alice@lab") -> str:
    """A fresh OpenSSH public key line (cryptography makes the pair; the private half is
    dropped)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    )
    return f"{raw.decode()} {comment}".strip()


def vm(name: str, keys: list[str], **kw: Any) -> ResourceSpec:
    kw.setdefault("image", "ubuntu-22.04")
    kw.setdefault("flavor", "tiny")
    return ResourceSpec(
        "vm", name, "test:alice", expires_at=EXPIRES, extra={"ssh_keys": keys}, **kw
    )


def qemu_img_info(path: str) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output", "json", path],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(json.loads(out.stdout))


Build = Callable[..., Awaitable[LibvirtProvider]]


@pytest.fixture
async def host(session_libvirtd: SessionLibvirtd) -> AsyncIterator[tuple[SessionLibvirtd, Any]]:
    """The daemon with one image in its pool (made with qemu-img behind libvirt's back, as a
    site copies a cloud image in), and a raw connection to check the provider's work."""
    import libvirt as lv

    image = session_libvirtd.pool_dir / "jammy.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(image), f"{IMAGE_GiB}G"],
        check=True,
        timeout=30,
    )
    session_libvirtd.chown(image)
    conn = await asyncio.to_thread(lv.open, session_libvirtd.uri)
    yield session_libvirtd, conn
    conn.close()


@pytest.fixture
async def build(host: tuple[SessionLibvirtd, Any]) -> AsyncIterator[Build]:
    daemon, _conn = host
    made: list[LibvirtProvider] = []

    async def make(**settings: Any) -> LibvirtProvider:
        config = {
            "uri": daemon.uri,
            "name_prefix": f"qmt{uuid.uuid4().hex[:6]}-",
            "storage_pool": daemon.pool,
            "domain_type": "qemu",  # TCG: the daemon's user has no /dev/kvm
            "interface_type": "user",  # session mode has no libvirt networks
            "flavors": {"tiny": {"cpus": 1, "memory_mb": 128, "disk_gb": 1}},
            "images": {
                "ubuntu-22.04": {"volume": "jammy.qcow2", "login_user": "ubuntu"},
                "debian-12": {"volume": "bookworm.qcow2", "login_user": "debian"},
            },
            "timeout_seconds": 60,
            **settings,
        }
        provider = LibvirtProvider(config)
        made.append(provider)
        return provider

    yield make
    for provider in made:
        try:
            for listed in await provider.list():
                await provider.delete(listed.external_id, no_progress)
        finally:
            await provider.close()


def volumes(conn: Any, pool: str) -> set[str]:
    p = conn.storagePoolLookupByName(pool)
    p.refresh(0)
    return set(p.listVolumes())


def disks(conn: Any, external_id: str) -> dict[str, ET.Element]:
    root = ET.fromstring(conn.lookupByUUIDString(external_id).XMLDesc(0))
    return {d.get("device", ""): d for d in root.findall("devices/disk")}


async def test_the_disk_is_a_qcow2_overlay_on_the_image_never_smaller_than_it(
    build: Build, host: tuple[SessionLibvirtd, Any]
) -> None:
    daemon, conn = host
    provider = await build()
    image = str(daemon.pool_dir / "jammy.qcow2")
    small = await provider.create(vm("small", [public_key()]), no_progress)  # flavor: 1 GiB
    large = await provider.create(vm("large", [public_key()], disk_gb=5), no_progress)

    for made, size_gib in ((small, IMAGE_GiB), (large, 5)):
        source = disks(conn, made.external_id)["disk"].find("source")
        assert source is not None
        info = qemu_img_info(source.get("file", ""))
        assert info["format"] == "qcow2"
        assert info["backing-filename"] == image
        assert info["backing-filename-format"] == "qcow2"
        assert info["virtual-size"] == size_gib * GiB
        # QEMU really runs the guest with these disks (nothing bootable on them, though)
        assert conn.lookupByUUIDString(made.external_id).isActive()
    assert qemu_img_info(image)["virtual-size"] == IMAGE_GiB * GiB  # the image is untouched


async def test_the_seed_is_a_cidata_iso_with_the_login_user_and_the_key_and_nothing_else(
    build: Build, host: tuple[SessionLibvirtd, Any]
) -> None:
    _daemon, conn = host
    provider = await build()
    # a comment that would be configuration if the YAML were a string template
    hostile = public_key("x runcmd: [rm -rf /] #")
    other = public_key("bob@lab")
    made = await provider.create(vm("seeded", [hostile, other]), no_progress)

    cdrom = disks(conn, made.external_id)["cdrom"]
    assert cdrom.find("readonly") is not None
    source = cdrom.find("source")
    assert source is not None
    seed_path = source.get("file", "")
    assert qemu_img_info(seed_path)["format"] == "raw"
    label, files = read_seed(Path(seed_path).read_bytes())
    assert label == "cidata"
    assert yaml.safe_load(files["meta-data"]) == {
        "instance-id": made.external_id,
        "local-hostname": "seeded",
    }
    assert files["user-data"].startswith("#cloud-config\n")
    config = yaml.safe_load(files["user-data"])
    assert set(config) == {"users", "ssh_pwauth", "disable_root"}
    (user,) = config["users"]
    assert user["name"] == "ubuntu" and user["lock_passwd"] is True
    assert user["ssh_authorized_keys"] == [hostile, other]
    assert "runcmd" not in user and config["ssh_pwauth"] is False
    assert made.details["login_user"] == "ubuntu" and made.details["ssh_keys"] == 2
    (listed,) = await provider.list()
    assert listed.details["login_user"] == "ubuntu"


async def test_delete_removes_the_domain_the_disk_and_the_seed(
    build: Build, host: tuple[SessionLibvirtd, Any]
) -> None:
    daemon, conn = host
    provider = await build()
    before = volumes(conn, daemon.pool)
    made = await provider.create(vm("doomed", [public_key()]), no_progress)
    paths = {
        kind: d.find("source").get("file", "")  # type: ignore[union-attr]
        for kind, d in disks(conn, made.external_id).items()
    }
    assert len(volumes(conn, daemon.pool) - before) == 2
    assert all(Path(p).exists() for p in paths.values())

    await provider.delete(made.external_id, no_progress)
    assert volumes(conn, daemon.pool) == before == {"jammy.qcow2"}
    assert not any(Path(p).exists() for p in paths.values())
    assert conn.listAllDomains(0) == []


async def test_a_missing_image_is_refused_before_anything_is_made(
    build: Build, host: tuple[SessionLibvirtd, Any]
) -> None:
    daemon, conn = host
    provider = await build()
    steps: list[str] = []

    async def progress(step: str, detail: str = "") -> None:
        steps.append(step)

    with pytest.raises(
        InvalidSpec,
        match=rf"image debian-12 is not on the libvirt host: the storage pool '{daemon.pool}' "
        r"has no volume 'bookworm\.qcow2'\. An admin must upload it",
    ):
        await provider.create(vm("nope", [public_key()], image="debian-12"), progress)
    unmapped = await build(images=["rocky-9"])  # names only: no volume to boot from
    with pytest.raises(InvalidSpec, match=r"image rocky-9 has no volume on this libvirt host"):
        await unmapped.create(vm("nope2", [], image="rocky-9"), progress)
    nowhere = await build(storage_pool="no-such-pool")
    with pytest.raises(ProviderError, match=r"storage pool 'no-such-pool' .* does not exist"):
        await nowhere.create(vm("nope3", []), progress)
    assert steps == []  # refused before "defining"
    assert volumes(conn, daemon.pool) == {"jammy.qcow2"}
    assert conn.listAllDomains(0) == []


async def test_a_failure_half_way_removes_the_volumes_already_made(
    build: Build, host: tuple[SessionLibvirtd, Any]
) -> None:
    daemon, conn = host
    provider = await build()
    name = f"{provider.settings.name_prefix}clash"
    # someone left a volume where the seed must go: the upload's create fails after the disk
    squatter = daemon.pool_dir / f"{name}-seed.iso"
    squatter.write_bytes(b"not ours")
    daemon.chown(squatter)
    volumes(conn, daemon.pool)  # refreshed: libvirt knows it now

    with pytest.raises(ProviderError, match=r"libvirt could not define clash: .*exists"):
        await provider.create(vm("clash", [public_key()]), no_progress)
    assert volumes(conn, daemon.pool) == {"jammy.qcow2", squatter.name}  # the disk is gone
    assert squatter.read_bytes() == b"not ours"
    assert conn.listAllDomains(0) == []
