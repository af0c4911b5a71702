"""The ``providers.libvirt`` settings: checked once when the provider is built, so a typo is a
start-up error naming the key rather than a failed VM request hours later.

``images`` is either a list of names (the test driver's demo: nothing boots, so no disk image is
needed) or a mapping from each name to the volume that holds it on the host (``ImageSource``):
that volume becomes the backing file of each VM's copy-on-write disk."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_URI = "test:///default"

DEFAULT_IMAGES = ("ubuntu-22.04", "ubuntu-24.04", "debian-12", "rocky-9")

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_LOGIN = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
KNOWN_KEYS = frozenset(
    {
        "uri",
        "network",
        "storage_pool",
        "interface_type",
        "domain_type",
        "name_prefix",
        "max_cpus",
        "max_memory_mb",
        "images",
        "default_image",
        "flavors",
        "default_flavor",
        "timeout_seconds",
        "boot_timeout_seconds",
        "usage_sample_seconds",
    }
)


@dataclass(frozen=True, slots=True)
class Flavor:
    cpus: int
    memory_mb: int
    disk_gb: int = 20


# OpenStack's classic sizes, so "m1.large" means the same on both providers
DEFAULT_FLAVORS = {
    "m1.tiny": Flavor(1, 512, 1),
    "m1.small": Flavor(1, 2048, 20),
    "m1.medium": Flavor(2, 4096, 40),
    "m1.large": Flavor(4, 8192, 80),
    "m1.xlarge": Flavor(8, 16384, 160),
}


@dataclass(frozen=True, slots=True)
class ImageSource:
    """Where an image lives on the host, and who logs in to VMs made from it."""

    volume: str  # volume name in ``pool``, e.g. jammy-server-cloudimg-amd64.img
    pool: str | None = None  # None: the provider's ``storage_pool``
    login_user: str | None = None  # the account cloud-init creates with the requester's key


@dataclass(frozen=True, slots=True)
class LibvirtSettings:
    uri: str = DEFAULT_URI
    network: str = "default"
    storage_pool: str | None = None  # a volume per VM in this pool; None: a nominal file path
    domain_type: str | None = None  # None: from the driver ("test" on test://, "kvm" on QEMU)
    name_prefix: str = ""
    max_cpus: int | None = None  # None: what the host reports (conn.getInfo)
    max_memory_mb: int | None = None
    images: tuple[str, ...] = DEFAULT_IMAGES
    image_sources: Mapping[str, ImageSource] = field(default_factory=dict)
    interface_type: str = "network"  # "user": QEMU user-mode networking (qemu:///session)
    default_image: str = DEFAULT_IMAGES[0]
    flavors: Mapping[str, Flavor] = field(default_factory=lambda: dict(DEFAULT_FLAVORS))
    default_flavor: str = "m1.small"
    timeout_seconds: float = 30.0
    boot_timeout_seconds: float = 120.0
    usage_sample_seconds: float = 1.0


def parse(config: Mapping[str, Any]) -> LibvirtSettings:
    """``LibvirtSettings`` from the config section; ``ValueError`` names the first bad key."""
    unknown = sorted(set(config) - KNOWN_KEYS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown setting (known: {', '.join(sorted(KNOWN_KEYS))})")
    values: dict[str, Any] = {}
    for key in ("uri", "network", "storage_pool", "interface_type", "domain_type", "name_prefix"):
        if config.get(key) is not None:
            values[key] = _text(config, key)
    if values.get("interface_type", "network") not in ("network", "user"):
        raise ValueError("interface_type: must be network (the default) or user")
    prefix = values.get("name_prefix", "")
    if prefix and not _NAME.fullmatch(prefix):
        raise ValueError("name_prefix: letters, digits, '.', '_' and '-' only, at most 63")
    for key in ("max_cpus", "max_memory_mb"):
        if config.get(key) is not None:
            values[key] = _positive_int(config, key)
    for key in ("timeout_seconds", "boot_timeout_seconds", "usage_sample_seconds"):
        if config.get(key) is not None:
            values[key] = _positive_float(config, key)
    if config.get("images") is not None:
        values["images"], values["image_sources"] = _images(config["images"])
    images = values.get("images", DEFAULT_IMAGES)
    values["default_image"] = (
        _text(config, "default_image") if config.get("default_image") is not None else images[0]
    )
    if values["default_image"] not in images:
        raise ValueError(f"default_image: {values['default_image']!r} is not one of images")
    if config.get("flavors") is not None:
        values["flavors"] = _flavors(config["flavors"])
    flavors = values.get("flavors", DEFAULT_FLAVORS)
    default_flavor = (
        _text(config, "default_flavor")
        if config.get("default_flavor") is not None
        else ("m1.small" if "m1.small" in flavors else next(iter(flavors)))
    )
    if default_flavor not in flavors:
        raise ValueError(f"default_flavor: {default_flavor!r} is not one of flavors")
    values["default_flavor"] = default_flavor
    return LibvirtSettings(**values)


def _text(config: Mapping[str, Any], key: str) -> str:
    value = config[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: must be a non-empty string")
    return value.strip()


def _positive_int(config: Mapping[str, Any], key: str) -> int:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key}: must be a positive whole number")
    return value


def _positive_float(config: Mapping[str, Any], key: str) -> float:
    value = config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{key}: must be a positive number of seconds")
    return float(value)


def _images(value: Any) -> tuple[tuple[str, ...], dict[str, ImageSource]]:
    """A list of names, or ``{name: {volume, pool, login_user}}``."""
    if isinstance(value, Mapping) and value:
        sources = {}
        for name, source in value.items():
            _image_name(name)
            where = f"images.{name}"
            if not isinstance(source, Mapping) or set(source) - {"volume", "pool", "login_user"}:
                raise ValueError(f"{where}: must be {{volume, pool, login_user}}")
            if "volume" not in source:
                raise ValueError(f"{where}.volume: required (the image's volume in the pool)")
            try:
                sources[name] = ImageSource(
                    volume=_text(source, "volume"),
                    pool=_text(source, "pool") if source.get("pool") is not None else None,
                    login_user=_login(source),
                )
            except ValueError as exc:
                raise ValueError(f"{where}.{exc}") from None
        return tuple(sources), sources
    if not isinstance(value, list | tuple) or not value:
        raise ValueError("images: must be a list of image names or map names to volumes")
    return tuple(_image_name(item) for item in value), {}


def _image_name(item: Any) -> str:
    if not isinstance(item, str) or not _NAME.fullmatch(item):
        raise ValueError(f"images: {item!r} is not an image name (letters, digits, . _ -)")
    return item


def _login(source: Mapping[str, Any]) -> str | None:
    if source.get("login_user") is None:
        return None
    user = _text(source, "login_user")
    if not _LOGIN.fullmatch(user):
        raise ValueError("login_user: a Unix user name (lower-case letters, digits, _ and -)")
    return user


def _flavors(value: Any) -> dict[str, Flavor]:
    if not isinstance(value, Mapping) or not value:
        raise ValueError("flavors: must map flavor names to {cpus, memory_mb, disk_gb}")
    flavors = {}
    for name, size in value.items():
        where = f"flavors.{name}"
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"flavors: {name!r} is not a flavor name (letters, digits, . _ -)")
        if not isinstance(size, Mapping) or set(size) - {"cpus", "memory_mb", "disk_gb"}:
            raise ValueError(f"{where}: must be {{cpus, memory_mb, disk_gb}}")
        try:
            flavors[name] = Flavor(
                _positive_int(size, "cpus"),
                _positive_int(size, "memory_mb"),
                _positive_int(size, "disk_gb") if "disk_gb" in size else 20,
            )
        except KeyError as exc:
            raise ValueError(f"{where}.{exc.args[0]}: required") from None
        except ValueError as exc:
            raise ValueError(f"{where}.{exc}") from None
    return flavors
