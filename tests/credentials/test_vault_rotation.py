"""Key rotation: master keys (resumable after a real kill) and per-user data keys; the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.storage.db import close_database, open_database
from credentials.keys import ENV_VAR, Keyring, generate, read_key_file, write_key_file
from credentials.models import DataKey, Rotation, SealedSecret
from credentials.rotation import rotate_master_keys
from credentials.settings import VaultSettings
from credentials.vault import Vault

USERS = [f"test:user{i:02d}" for i in range(10)]


def value_of(owner: str) -> str:
    return f"token-{owner}-Zx81Qw"


async def _fill(vault: Vault) -> None:
    for owner in USERS:
        await vault.store(owner, "openstack", value_of(owner))
        await vault.store(owner, "aws", value_of(owner) + "-aws")


async def _all_open(vault: Vault) -> bool:
    for owner in USERS:
        assert (await vault.use(owner, "openstack", skill="test")).reveal() == value_of(owner)
        assert (await vault.use(owner, "aws", skill="test")).reveal() == value_of(owner) + "-aws"
    return True


async def test_master_rotation_with_environment_keys(vault_db: str) -> None:
    old, new = generate(), generate()
    await _fill(Vault(Keyring((old,), "env")))
    result, _ = await rotate_master_keys(Keyring((new, old), "env"), VaultSettings())
    assert result.report.ok and result.report.rewrapped == len(USERS)
    assert result.generated is None and result.remove_from_env == [old.key_id]
    assert set(await DataKey.all().values_list("master_key_id", flat=True)) == {new.key_id}
    assert await _all_open(Vault(Keyring((new,), "env")))  # the old key is not needed
    again, _ = await rotate_master_keys(Keyring((new,), "env"), VaultSettings())
    assert again.report.rewrapped == 0 and again.report.already == len(USERS)


async def test_master_rotation_with_a_key_file_generates_and_retires(
    vault_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "master.key"
    old = generate()
    write_key_file(path, (old,))
    await _fill(Vault(read_key_file(path, "t")))
    result, ring = await rotate_master_keys(read_key_file(path, "t"), VaultSettings())
    assert result.generated is not None and ring.ids == [result.generated]
    assert read_key_file(path, "t").ids == [result.generated]
    assert result.retired == [old.key_id] and result.retired_file is not None
    assert old.encoded() in result.retired_file.read_text()
    assert await _all_open(Vault(read_key_file(path, "t")))


async def test_a_running_vault_follows_a_rotation_done_elsewhere(
    vault_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "master.key"
    write_key_file(path, (generate(),))
    running = Vault(read_key_file(path, "t"))  # the bot, started before the rotation
    await _fill(running)
    await rotate_master_keys(read_key_file(path, "t"), VaultSettings())  # the CLI
    assert await _all_open(running)
    await running.store("test:newcomer", "aws", "newcomer-Zx81Qw-value")
    new_key = await DataKey.get(owner="test:newcomer")
    assert new_key.master_key_id == read_key_file(path, "t").primary.key_id


async def test_user_rotation_reseals_everything_and_drops_the_old_key(
    vault_db: str, keyring: Keyring
) -> None:
    vault = Vault(keyring)
    await _fill(vault)
    before = await SealedSecret.filter(owner=USERS[0]).values_list("sealed", flat=True)
    assert await vault.rotate_user(USERS[0]) == 2
    keys = await DataKey.filter(owner=USERS[0]).values_list("version", flat=True)
    assert list(keys) == [2]
    after = await SealedSecret.filter(owner=USERS[0]).values_list("sealed", flat=True)
    assert set(map(bytes, before)).isdisjoint(set(map(bytes, after)))
    assert await _all_open(vault)


# -- a real interruption: a rotation process killed half way, then the CLI finishes it -------
CHILD = r"""
import asyncio, sys, time
from pathlib import Path
from bot.storage.db import open_database
from credentials.keys import read_key_file
from credentials.rotation import rotate_master_keys
from credentials.settings import VaultSettings

async def main(url, key_file, stop_after):
    await open_database(url)
    ring = read_key_file(Path(key_file), "test")
    def progress(done, total):
        if done >= stop_after:
            print("PAUSED", done, total, flush=True)
            time.sleep(3600)          # the parent kills this process here
    await rotate_master_keys(ring, VaultSettings(), progress=progress)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.pop("QUARTERMASTER_CONFIG", None)
    return env


def _cli(
    config: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or _env(),
    )


async def test_rotation_killed_half_way_resumes_and_finishes(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    old = generate()
    write_key_file(path, (old,))
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\nvault:\n  key_file: {path}\n")
    await open_database(db_url)
    try:
        await _fill(Vault(read_key_file(path, "t")))
    finally:
        await close_database()

    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, db_url, str(path), "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("PAUSED 3 10"), (line, child.stderr.read() if child.stderr else "")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()

    new_id = read_key_file(path, "t").primary.key_id
    assert new_id != old.key_id
    await open_database(db_url)
    try:
        assert await DataKey.filter(master_key_id=new_id).count() == 3  # really half way
        assert await Rotation.filter(finished_at=None).count() == 1
        assert await _all_open(Vault(read_key_file(path, "t")))  # mixed state works
    finally:
        await close_database()

    done = _cli(config, "vault", "rotate-master")
    assert done.returncode == 0, done.stderr
    assert "resumed an interrupted rotation" in done.stdout
    assert "re-wrapped 7 data key(s)" in done.stdout and "retired" in done.stdout
    assert read_key_file(path, "t").ids == [new_id]
    verify = _cli(config, "vault", "verify")
    assert verify.returncode == 0 and verify.stdout.startswith("20 of 20 secrets open")
    user = _cli(config, "vault", "rotate-user", USERS[3])
    assert user.returncode == 0
    assert f"{USERS[3]}: new data key; re-sealed 2 secret(s)" in user.stdout
    listing = _cli(config, "vault", "list", "--user", USERS[3])
    assert listing.returncode == 0 and len(listing.stdout.splitlines()) == 3
    assert value_of(USERS[3]) not in listing.stdout
    await open_database(db_url)
    try:
        assert await Rotation.filter(finished_at=None).count() == 0
        assert await _all_open(Vault(read_key_file(path, "t")))
    finally:
        await close_database()


async def test_cli_with_the_wrong_master_key_fails_cleanly(tmp_path: Path) -> None:
    right, wrong = generate(), generate()
    url = f"sqlite://{tmp_path / 'v.sqlite3'}"
    await open_database(url)
    try:
        await Vault(Keyring((right,), "env")).store("test:alice", "openstack", "alice-Zx81Qw-token")
    finally:
        await close_database()
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {url}\n")
    env = {**_env(), ENV_VAR: wrong.encoded()}
    result = _cli(config, "vault", "verify", env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert "Traceback" not in output and "alice-Zx81Qw-token" not in output
    assert right.encoded() not in output and wrong.encoded() not in output
    assert "0 of 1 secrets open" in output
    assert (
        f"FAILED test:alice openstack: the data key of test:alice is wrapped by master key "
        f"{right.key_id}, which is not configured" in output
    )
    listing = _cli(config, "vault", "list", env=env)
    assert listing.returncode == 0 and "test:alice\topenstack\topenstack\t1" in listing.stdout
    assert "alice-Zx81Qw-token" not in listing.stdout
    bad = _cli(config, "vault", "rotate-user", "two words", env=env)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_cli_reports_bad_vault_settings_by_key(tmp_path: Path) -> None:
    config = tmp_path / "qm.yml"
    config.write_text(
        f"database:\n  url: sqlite://{tmp_path / 'v.sqlite3'}\n"
        "vault:\n  max_secret_bytes: 3\n  colour: blue\n"
    )
    result = _cli(config, "vault", "verify")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"quartermaster: error: {config}: vault.max_secret_bytes: Input should be greater than "
        "or equal to 16",
        f"quartermaster: error: {config}: vault.colour: unknown key (see docs/vault.md)",
    ]
