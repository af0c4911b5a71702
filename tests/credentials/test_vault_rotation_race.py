"""One rotation at a time: real `quartermaster vault rotate-master` processes racing, and the lease.

Two rotations at once used to write two different new keys over each other, and the data keys
wrapped by the lost one never opened again. A test holding the maintenance lock is the gate: both
processes start, both say they wait, the gate opens and they race each other for real.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.storage.db import close_database, open_database
from credentials.keys import ENV_VAR, Keyring, generate, read_key_file, write_key_file
from credentials.models import DataKey, Rotation, SealedSecret
from credentials.vault import Vault

OWNERS = [f"test:user{i:03d}" for i in range(150)]  # 300 secrets, 150 data keys


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "QUARTERMASTER_CONFIG")}
    return {**env, **extra}


def _rotate(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "vault", "rotate-master", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or _env(),
    )


async def _fill(vault: Vault) -> None:
    for owner in OWNERS:
        await vault.store(owner, "openstack", f"os-{owner}-Zx81Qw")
        await vault.store(owner, "aws", f"aws-{owner}-Zx81Qw")


async def test_two_rotations_at_once_lose_no_key(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    old = generate()
    write_key_file(path, (old,))
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\nvault:\n  key_file: {path}\n")
    await open_database(db_url)
    try:
        await _fill(Vault(read_key_file(path, "t")))
        from credentials.lock import maintenance_lock  # here: the test below runs on old code

        async with maintenance_lock(path.parent, "test gate", wait=0):
            runs = [_rotate(config), _rotate(config)]
            for run in runs:  # both are running and blocked on the gate before it opens
                assert run.stdout is not None
                line = run.stdout.readline()
                assert line.startswith("waiting: another test gate is running since "), line + (
                    run.stderr.read() if run.stderr else ""
                )
                assert f"by pid {os.getpid()} on host {socket.gethostname()}" in line
        outputs = [run.communicate(timeout=120) for run in runs]
    finally:
        await close_database()

    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, out + err
        assert "Traceback" not in out + err and err == ""
    rotated = [out for out, _ in outputs if "re-wrapped 150 data key(s)" in out]
    waited = [out for out, _ in outputs if "nothing left to do" in out]
    assert len(rotated) == 1 and len(waited) == 1, outputs
    ring = read_key_file(path, "t")
    assert len(ring.ids) == 1 and ring.primary.key_id != old.key_id
    assert f"all 150 data key(s) use master key {ring.primary.key_id}" in waited[0]
    await open_database(db_url)
    try:
        assert set(await DataKey.all().values_list("master_key_id", flat=True)) == set(ring.ids)
        assert await Rotation.filter(finished_at=None).count() == 0
        from credentials.models import VaultLock

        assert await VaultLock.all().count() == 0  # both released the lease
        report = await Vault(ring).verify()
        assert report.ok and report.opened == 300 == await SealedSecret.all().count()
    finally:
        await close_database()


async def test_rotations_started_together_leave_every_secret_openable(
    db_url: str, tmp_path: Path
) -> None:
    """No gate: however the two runs interleave, no key is lost and nobody sees a traceback."""
    path = tmp_path / "keys" / "master.key"
    write_key_file(path, (generate(),))
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\nvault:\n  key_file: {path}\n")
    await open_database(db_url)
    try:
        await _fill(Vault(read_key_file(path, "t")))
    finally:
        await close_database()
    for _round in range(3):
        runs = [_rotate(config), _rotate(config)]
        outputs = [run.communicate(timeout=120) for run in runs]
        for run, (out, err) in zip(runs, outputs, strict=True):
            assert run.returncode == 0 and "Traceback" not in out + err, out + err
        await open_database(db_url)
        try:
            report = await Vault(read_key_file(path, "t")).verify()
        finally:
            await close_database()
        assert report.ok and report.opened == 300, report.failures[:3]


async def test_a_rotation_refuses_at_once_naming_the_holder(db_url: str, tmp_path: Path) -> None:
    """Keys from the environment (no key file): only the database lease serialises the hosts."""
    old, new = generate(), generate()
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\n")
    await open_database(db_url)
    try:
        await Vault(Keyring((old,), "env")).store("test:alice", "aws", "aws-alice-Zx81Qw")
        from credentials.lock import maintenance_lock

        async with maintenance_lock(None, "recovery", wait=0):
            run = _rotate(
                config, "--wait", "0", env=_env(**{ENV_VAR: f"{new.encoded()},{old.encoded()}"})
            )
            out, err = run.communicate(timeout=60)
        assert await DataKey.filter(master_key_id=old.key_id).count() == 1  # untouched
    finally:
        await close_database()
    assert run.returncode == 1 and out == "" and "Traceback" not in err
    [line] = err.splitlines()
    assert line.startswith("quartermaster: error: another recovery is running since ")
    assert f"by pid {os.getpid()} on host {socket.gethostname()}; waited 0 s." in line
