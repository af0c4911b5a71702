"""cloud-init data for new VMs. For libvirt, a NoCloud seed built in memory: an ISO 9660 image
labelled ``cidata`` holding ``meta-data`` (instance id, host name) and ``user-data``
(``#cloud-config``: the login user with the requester's SSH keys), which cloud images read from
the VM's cdrom at first boot. For clouds with a metadata service (OpenStack), ``default_user_keys``:
user-data that only authorises the keys for the image's own default user.

The YAML is dumped from data (``yaml.safe_dump``), never formatted from strings, so a key comment
or a name cannot inject configuration; the keys are checked by ``ssh_keys.parse_public_key``
again here, whatever the caller did. pycdlib (pure Python) writes the ISO with Joliet and Rock
Ridge names, as ``cloud-localds``/``genisoimage -volid cidata -joliet -rock`` do."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import yaml

from .ssh_keys import parse_public_key

LABEL = "cidata"
LOGIN_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # a Unix user name cloud-init can create


def meta_data(instance_id: str, hostname: str) -> str:
    return yaml.safe_dump({"instance-id": instance_id, "local-hostname": hostname})


def user_data(login_user: str, ssh_keys: Sequence[str]) -> str:
    """``#cloud-config`` creating ``login_user`` (sudo, no password) with ``ssh_keys``."""
    keys = [parse_public_key(k) for k in ssh_keys]
    user: dict[str, Any] = {
        "name": login_user,
        "sudo": "ALL=(ALL) NOPASSWD:ALL",
        "shell": "/bin/bash",
        "lock_passwd": True,
    }
    if keys:
        user["ssh_authorized_keys"] = keys
    config = {"users": [user], "ssh_pwauth": False, "disable_root": True}
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=100_000)


def default_user_keys(ssh_keys: Sequence[str]) -> str:
    """``#cloud-config`` with only a top-level ``ssh_authorized_keys``, which cloud-init's ssh
    module adds to the image's default user (``ubuntu``, ``debian``, ``rocky``, …): the image
    keeps its own user, sudo rule and sshd settings, so nothing but the keys is ours."""
    keys = [parse_public_key(k) for k in ssh_keys]
    config = {"ssh_authorized_keys": keys}
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=100_000)


def seed_iso(*, instance_id: str, hostname: str, login_user: str, ssh_keys: Sequence[str]) -> bytes:
    """The NoCloud seed as ISO bytes (a few hundred KiB at most)."""
    import pycdlib  # imported when a seed is made, not when the bot starts

    files = {
        "meta-data": meta_data(instance_id, hostname).encode(),
        "user-data": user_data(login_user, ssh_keys).encode(),
    }
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=LABEL, joliet=3, rock_ridge="1.09")
    for name, data in files.items():
        iso_name = "/" + name.replace("-", "").upper() + ".;1"
        iso.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=name, joliet_path=f"/{name}")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def read_seed(data: bytes) -> tuple[str, dict[str, str]]:
    """The label and files of a seed ISO (by their Joliet names): for tests and for checks."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        label = iso.pvd.volume_identifier.decode().strip()
        files = {}
        for name in ("meta-data", "user-data", "network-config"):
            out = io.BytesIO()
            try:
                iso.get_file_from_iso_fp(out, joliet_path=f"/{name}")
            except pycdlib.pycdlibexception.PyCdlibInvalidInput:
                continue
            files[name] = out.getvalue().decode()
        return label, files
    finally:
        iso.close()
