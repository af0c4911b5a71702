"""The maintenance lease in the database: taken over from a dead holder, respected otherwise."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from credentials.errors import VaultBusy
from credentials.keys import generate, read_key_file, write_key_file
from credentials.models import VaultLock
from credentials.rotation import rotate_master_keys
from credentials.settings import VaultSettings
from credentials.vault import Vault


async def test_a_lease_left_by_a_dead_process_is_taken_over(vault_db: str, tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    write_key_file(path, (generate(),))
    await Vault(read_key_file(path, "t")).store("test:alice", "aws", "aws-alice-Zx81Qw")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    now = datetime.now(UTC)
    await VaultLock.create(
        name="maintenance",
        token="dead",
        purpose="rotation",
        pid=gone.pid,
        host=socket.gethostname(),
        acquired_at=now,
        expires_at=now + timedelta(hours=1),
    )
    result, _ = await rotate_master_keys(read_key_file(path, "t"), VaultSettings(), wait=0)
    assert result.report.ok and result.report.rewrapped == 1 and result.waited_for is None
    assert await VaultLock.all().count() == 0


async def test_a_live_lease_from_another_host_blocks_until_it_expires(
    vault_db: str, tmp_path: Path
) -> None:
    path = tmp_path / "master.key"
    write_key_file(path, (generate(),))
    now = datetime.now(UTC)
    row = await VaultLock.create(
        name="maintenance",
        token="elsewhere",
        purpose="rotation",
        pid=1,
        host="other-host.example",
        acquired_at=now,
        expires_at=now + timedelta(hours=1),
    )
    with pytest.raises(VaultBusy, match=r"by pid 1 on host other-host\.example") as caught:
        await rotate_master_keys(read_key_file(path, "t"), VaultSettings(), wait=0)
    assert str(caught.value).startswith("another rotation is running since ")
    await VaultLock.filter(id=row.id).update(expires_at=now - timedelta(seconds=1))
    result, _ = await rotate_master_keys(read_key_file(path, "t"), VaultSettings(), wait=0)
    assert result.report.ok
