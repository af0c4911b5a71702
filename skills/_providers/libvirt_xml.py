"""Domain XML for the libvirt provider: what we define, and the Quartermaster record inside it.

The record (owner, expiry, image, flavor, the disk and seed volumes to remove with it, the login
user) lives in the domain's own ``<metadata>`` under our namespace, so it travels with the
domain: ``list`` tells our domains from anyone else's and ``extend`` updates the expiry without a
table of its own. Records written before a field existed simply lack it. The XML comes from our
own hypervisor connection, and ElementTree (expat) refuses entity expansion attacks anyway.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import datetime

NS = "https://quartermaster.example/xmlns/1"
PREFIX = "qm"
ET.register_namespace(PREFIX, NS)

_FIELDS = ("name", "owner", "created", "expires", "image", "flavor", "volume", "seed", "login")


@dataclass(frozen=True, slots=True)
class Record:
    """What Quartermaster keeps in a domain's metadata (times as aware datetimes)."""

    name: str
    owner: str
    created: datetime
    expires: datetime | None = None
    image: str | None = None
    flavor: str | None = None
    volume: str | None = None  # path of the disk volume we created for it, removed with it
    seed: str | None = None  # path of its cloud-init seed volume, removed with it
    login: str | None = None  # the user cloud-init made, when it got an SSH key

    def with_expiry(self, until: datetime) -> Record:
        return replace(self, expires=until)

    def element(self, *, qualified: bool) -> ET.Element:
        """``qualified`` for a whole domain definition; libvirt's ``setMetadata`` wants the
        bare element and adds the namespace itself."""

        def tag(local: str) -> str:
            return f"{{{NS}}}{local}" if qualified else local

        root = ET.Element(tag("resource"))
        for key in _FIELDS:
            value = getattr(self, key)
            if value is None:
                continue
            ET.SubElement(root, tag(key)).text = (
                value.isoformat() if isinstance(value, datetime) else str(value)
            )
        return root

    def xml(self) -> str:
        """The bare element for ``virDomain.setMetadata``."""
        return ET.tostring(self.element(qualified=False), encoding="unicode")


def record_from(resource: ET.Element | None) -> Record | None:
    """Our record from a ``<qm:resource>`` (qualified) or ``<resource>`` (bare) element;
    None when it is absent or does not parse (then the domain is not treated as ours)."""
    if resource is None:
        return None
    values: dict[str, str] = {}
    for child in resource:
        local = child.tag.rpartition("}")[2]
        if local in _FIELDS and child.text:
            values[local] = child.text.strip()
    try:
        return Record(
            name=values["name"],
            owner=values["owner"],
            created=datetime.fromisoformat(values["created"]),
            expires=datetime.fromisoformat(values["expires"]) if "expires" in values else None,
            image=values.get("image"),
            flavor=values.get("flavor"),
            volume=values.get("volume"),
            seed=values.get("seed"),
            login=values.get("login"),
        )
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class DomainFacts:
    """What ``list`` and the quota check read from one ``XMLDesc``."""

    name: str
    uuid: str
    vcpus: int
    memory_mb: int
    record: Record | None


def parse_domain(xml: str) -> DomainFacts:
    root = ET.fromstring(xml)
    memory = root.find("memory")
    kib = int(memory.text or 0) if memory is not None else 0
    unit = memory.get("unit", "KiB") if memory is not None else "KiB"
    scale = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024, "b": 1 / 1048576, "bytes": 1 / 1048576}
    vcpu = root.find("vcpu")
    return DomainFacts(
        name=root.findtext("name", ""),
        uuid=root.findtext("uuid", ""),
        vcpus=int(vcpu.text or 1) if vcpu is not None else 1,
        memory_mb=int(kib * scale.get(unit, 1 / 1024)),
        record=record_from(root.find(f"metadata/{{{NS}}}resource")),
    )


def random_mac() -> str:
    """A locally administered MAC in the 52:54:00 range that QEMU/KVM uses."""
    return "52:54:00:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))


def domain_xml(
    *,
    domain_name: str,
    domain_type: str,
    cpus: int,
    memory_mb: int,
    disk_path: str,
    network: str,
    mac: str,
    record: Record,
    uuid: str | None = None,
    seed_path: str | None = None,
    interface_type: str = "network",
) -> str:
    """A minimal bootable definition: one ``vda`` disk (so ``blockStats("vda")`` answers), the
    cloud-init seed as a read-only cdrom, and one NIC with a known MAC (so ``interfaceStats``
    and address lookups can name it)."""
    dom = ET.Element("domain", type=domain_type)
    ET.SubElement(dom, "name").text = domain_name
    if uuid is not None:
        ET.SubElement(dom, "uuid").text = uuid
    metadata = ET.SubElement(dom, "metadata")
    metadata.append(record.element(qualified=True))
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mb)
    ET.SubElement(dom, "vcpu").text = str(cpus)
    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64").text = "hvm"
    ET.SubElement(os_, "boot", dev="hd")
    devices = ET.SubElement(dom, "devices")
    disk = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk, "source", file=disk_path)
    ET.SubElement(disk, "target", dev="vda", bus="virtio")
    if seed_path is not None:
        cdrom = ET.SubElement(devices, "disk", type="file", device="cdrom")
        ET.SubElement(cdrom, "driver", name="qemu", type="raw")
        ET.SubElement(cdrom, "source", file=seed_path)
        ET.SubElement(cdrom, "target", dev="sda", bus="sata")
        ET.SubElement(cdrom, "readonly")
    nic = ET.SubElement(devices, "interface", type=interface_type)
    ET.SubElement(nic, "mac", address=mac)
    if interface_type == "network":
        ET.SubElement(nic, "source", network=network)
    ET.SubElement(nic, "model", type="virtio")
    return ET.tostring(dom, encoding="unicode")


def volume_xml(
    name: str,
    capacity_bytes: int,
    *,
    fmt: str = "qcow2",
    backing_path: str | None = None,
    backing_format: str = "qcow2",
) -> str:
    """A volume: qcow2 (a copy-on-write overlay when ``backing_path`` is given) or raw."""
    vol = ET.Element("volume")
    ET.SubElement(vol, "name").text = name
    ET.SubElement(vol, "capacity", unit="bytes").text = str(capacity_bytes)
    if fmt == "raw":
        ET.SubElement(vol, "allocation", unit="bytes").text = str(capacity_bytes)
    target = ET.SubElement(vol, "target")
    ET.SubElement(target, "format", type=fmt)
    if backing_path is not None:
        backing = ET.SubElement(vol, "backingStore")
        ET.SubElement(backing, "path").text = backing_path
        ET.SubElement(backing, "format", type=backing_format)
    return ET.tostring(vol, encoding="unicode")
