"""`quartermaster resources …` and `quartermaster observers run …` as an operator runs them:
real subprocesses on the database a real bot wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.storage.models import Delivery, Resource
from tests.vms.conftest import create_vm

ROOT = Path(__file__).resolve().parents[2]


def qm(tmp_path: Path, uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "qm.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "adapters": {"shell": {"enabled": False}},
                "database": {"url": f"sqlite://{tmp_path / 'test.sqlite3'}"},
                "providers": {"libvirt": {"uri": uri}},
                "roles": {"grants": {"staff": ["test:sam"]}},
                "vms": {"max_days": 30},
            }
        )
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        text=True,
        capture_output=True,
        env={**os.environ, "USER": "olga"},
        cwd=ROOT,
        timeout=120,
    )


async def test_resources_and_observers_from_the_command_line(
    make_bot: Callable[..., Any], tmp_path: Path, libvirtd: Any
) -> None:
    # one libvirt host for the bot and the commands (the in-process test driver is per process);
    # the daemon's test driver forgets its machines when its last client leaves: hold one
    import libvirt

    keeper = libvirt.open(libvirtd.uri)
    try:
        await _scenario(make_bot, tmp_path, libvirtd)
    finally:
        keeper.close()


async def _scenario(make_bot: Callable[..., Any], tmp_path: Path, libvirtd: Any) -> None:
    async with make_bot(providers={"libvirt": {"uri": libvirtd.uri}}) as bot:
        await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 20 days")
        await create_vm(bot, "bob", "spin up 1 debian 12 m1.small for 3 days")

    listed = qm(tmp_path, libvirtd.uri, "resources", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["owner"], r["state"]) for r in rows] == [
        ("vm-1", "test:alice", "running"),
        ("vm-2", "test:bob", "running"),
    ]
    assert rows[0]["spec"]["image"] == "ubuntu-22.04" and rows[0]["addresses"]
    mine = qm(tmp_path, libvirtd.uri, "resources", "list", "--user", "test:bob")
    assert "vm-2" in mine.stdout and "vm-1" not in mine.stdout
    shown = qm(tmp_path, libvirtd.uri, "resources", "show", "vm-1")
    assert "owner: test:alice" in shown.stdout and "expires_at: 2027-03-21" in shown.stdout
    missing = qm(tmp_path, libvirtd.uri, "resources", "show", "vm-99")
    assert missing.returncode != 0 and "vm-99: no such VM" in missing.stderr
    assert "Traceback" not in missing.stderr

    # observers, as if on 2027-03-05 (alice's VM expires in 16 days … 15 days ahead is the 6th)
    dry = qm(tmp_path, libvirtd.uri, "observers", "run", "--at", "2027-03-06T10:00Z", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = [line.split("\t") for line in dry.stdout.splitlines()[1:]]
    assert ["vm-expiry", "expires-15d", "vm:1", "test:alice"] in lines
    assert ["vm-expiry", "expires-5d", "vm:2", "test:bob"] not in lines  # bob's ended on the 4th
    assert ["vm-cleanup", "would-delete", "vm:2", "test:bob,test:sam"] in lines
    only = qm(
        tmp_path,
        libvirtd.uri,
        "observers",
        "run",
        "--at",
        "2027-03-06T10:00Z",
        "--only",
        "vm-expiry",
    )
    assert [line.split("\t")[0] for line in only.stdout.splitlines()[1:]] == ["vm-expiry"]
    again = qm(
        tmp_path,
        libvirtd.uri,
        "observers",
        "run",
        "--at",
        "2027-03-06T11:00Z",
        "--only",
        "vm-expiry",
    )
    assert again.stdout.splitlines()[1:] == []  # the real run recorded it: told once
    bad = qm(tmp_path, libvirtd.uri, "observers", "run", "--at", "next tuesday")
    assert bad.returncode != 0 and "--at" in bad.stderr and "Traceback" not in bad.stderr

    extended = qm(tmp_path, libvirtd.uri, "resources", "extend", "vm-2", "2 weeks")
    assert extended.returncode == 0, extended.stderr
    assert "vm-2 now runs until 2027-03-" in extended.stdout
    released = qm(tmp_path, libvirtd.uri, "resources", "release", "vm-1")
    assert released.returncode == 0, released.stderr
    # the commands have no chat platform: what they had to say waited in the outbox (none of the
    # later commands took it) and the bot sends it when it runs, with the alert's buttons
    waiting = qm(tmp_path, libvirtd.uri, "outbox", "list").stdout.splitlines()
    assert [line.split("  ")[1:5] for line in waiting] == [
        ["pending", "dm", "observer:vm-expiry:vm:1", "to test:alice"],
        ["pending", "dm", "vm:1", "to test:alice"],
    ]
    async with make_bot(providers={"libvirt": {"uri": libvirtd.uri}}) as bot:
        assert (await Resource.get(name="vm-1")).state == "released"
        assert (await Resource.get(name="vm-2")).state == "running"
        await bot.app.deliveries.deliver_due()
        told = bot.dms_to("alice")
        assert [m.text for m in told if "expires on 2027-03-21" in m.text] == [told[0].text]
        assert told[0].labels == ["Extend", "Release"]
        assert told[-1].text == "An operator deleted your VM vm-1."
        assert await Delivery.filter(state="pending").count() == 0
