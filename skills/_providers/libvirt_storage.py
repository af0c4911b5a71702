"""Volumes for the libvirt provider, through libvirt's storage API (the host's own pools, so a
remote ``qemu+ssh://`` host works the same as a local one): find the image, make each VM's
copy-on-write disk on top of it, upload the cloud-init seed, remove both with the VM.

Every function here blocks (libvirt-python) and runs in the provider's worker thread under its
timeout. What the site must fix is said in ``InvalidSpec``/``ProviderError`` sentences that name
the image, pool or volume, never the URI."""

from __future__ import annotations

import contextlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import libvirt

from bot.providers import InvalidSpec, ProviderError

from .libvirt_settings import ImageSource
from .libvirt_xml import volume_xml

log = logging.getLogger(__name__)

_CHUNK = 256 * 1024
_HOW = "docs/resources.md, 'A real host'"


@dataclass(frozen=True, slots=True)
class ImageVolume:
    """An image volume on the host: its path, size and format, for the overlay's backing."""

    path: str
    capacity: int  # bytes
    format: str


def find_image(conn: Any, image: str, source: ImageSource, default_pool: str | None) -> ImageVolume:
    """The volume behind ``image``, or an ``InvalidSpec`` naming the image and what the site
    must do. A volume copied into a directory pool behind libvirt's back shows up after a
    refresh, so a miss is retried once after one."""
    pool_name = source.pool or default_pool
    if pool_name is None:
        raise ProviderError(
            f"The image {image} names no storage pool and providers.libvirt.storage_pool is "
            f"not set; an admin must set one ({_HOW})."
        )
    pool = _pool(conn, pool_name, f"for the image {image}")
    try:
        vol = pool.storageVolLookupByName(source.volume)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise
        with contextlib.suppress(libvirt.libvirtError):
            pool.refresh(0)
        try:
            vol = pool.storageVolLookupByName(source.volume)
        except libvirt.libvirtError:
            raise InvalidSpec(
                f"The image {image} is not on the libvirt host: the storage pool {pool_name!r} "
                f"has no volume {source.volume!r}. An admin must upload it there (e.g. `virsh "
                f"vol-upload`) or fix providers.libvirt.images.{image}.volume ({_HOW})."
            ) from None
    fmt = ET.fromstring(vol.XMLDesc(0)).find("target/format")
    return ImageVolume(
        path=vol.path(),
        capacity=int(vol.info()[1]),
        format=fmt.get("type", "raw") if fmt is not None else "raw",
    )


def _pool(conn: Any, name: str, purpose: str) -> Any:
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_POOL:
            raise
        raise ProviderError(
            f"The libvirt storage pool {name!r} ({purpose}) does not exist on the host; an "
            f"admin must create it or fix providers.libvirt ({_HOW})."
        ) from None
    if not pool.isActive():
        raise ProviderError(
            f"The libvirt storage pool {name!r} ({purpose}) is not running; an admin must start "
            f"it (`virsh pool-start {name}` and `virsh pool-autostart {name}`)."
        )
    return pool


def create_disk(
    conn: Any, pool_name: str, name: str, size_bytes: int, backing: ImageVolume | None
) -> Any:
    """The VM's disk: a qcow2 overlay on ``backing`` (never smaller than the image), or an
    empty qcow2 volume when there is no image (the test driver's demo)."""
    pool = _pool(conn, pool_name, "for the VMs' disks")
    if backing is None:
        return pool.createXML(volume_xml(name, size_bytes), 0)
    return pool.createXML(
        volume_xml(
            name,
            max(size_bytes, backing.capacity),
            backing_path=backing.path,
            backing_format=backing.format,
        ),
        0,
    )


def upload(conn: Any, pool_name: str, name: str, data: bytes) -> Any:
    """A raw volume holding ``data``, sent through a libvirt stream (works on remote hosts)."""
    pool = _pool(conn, pool_name, "for the cloud-init seeds")
    vol = pool.createXML(volume_xml(name, len(data), fmt="raw"), 0)
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, len(data), 0)
        sent = 0
        while sent < len(data):
            count = stream.send(data[sent : sent + _CHUNK])
            if count <= 0:
                raise ProviderError("libvirt stopped taking the cloud-init seed upload.")
            sent += count
        stream.finish()
    except BaseException:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
        raise
    return vol


def delete_paths(conn: Any, paths: list[str], owner: str) -> None:
    """Remove the volumes at ``paths``; one that stays is logged, not raised (the VM is gone)."""
    for path in paths:
        try:
            conn.storageVolLookupByPath(path).delete(0)
        except libvirt.libvirtError as exc:
            log.warning("libvirt: volume %s of %s stays: %s", path, owner, exc)
