"""One vault maintenance at a time: a file lock beside the key file and a lease in the database.

Two ``rotate-master`` runs at once each wrote their own new key over the other's, and data keys
wrapped by the lost one could never be opened again. Now every run that changes master keys or
retires data keys (``rotate-master``, ``recover``) holds both locks first:

- an exclusive ``fcntl.flock`` on ``.vault-maintenance.lock`` in the key file's folder, which the
  kernel releases when the process dies (processes on one host);
- a lease row in ``qm_vault_lock`` (hosts sharing a database, and keys from the environment),
  renewed while held; a lease whose holder died expires, or is taken over at once when the holder
  was on this host and its pid is gone.

A second run waits a bounded time, then refuses, naming who holds the lock since when.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError

from credentials.errors import VaultBusy
from credentials.models import VaultLock

log = logging.getLogger(__name__)

LOCK_FILE = ".vault-maintenance.lock"
LEASE = timedelta(seconds=60)
POLL_SECONDS = 0.2
_NAME = "maintenance"


@dataclass
class Held:
    """What the caller holds, and whom it waited for first (None: the lock was free)."""

    purpose: str
    waited_for: str | None = None
    waited_seconds: float = 0.0


def _now() -> datetime:
    return datetime.now(UTC)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _describe(purpose: str, since: str, pid: int | str, host: str) -> str:
    return f"another {purpose} is running since {since}, by pid {pid} on host {host}"


class _FileLock:
    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_FILE
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def try_take(self, purpose: str) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        stamp = _now().strftime("%Y-%m-%d %H:%M:%S UTC")
        os.ftruncate(self.fd, 0)
        os.pwrite(
            self.fd, f"{purpose}\t{stamp}\t{os.getpid()}\t{socket.gethostname()}\n".encode(), 0
        )
        return True

    def holder(self) -> str:
        try:
            parts = self.path.read_text(encoding="utf-8").strip().split("\t")
        except OSError:
            parts = []
        if len(parts) != 4:
            return f"another vault maintenance holds {self.path}"
        return _describe(*parts)

    def release(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


class _Lease:
    def __init__(self, purpose: str) -> None:
        self.purpose = purpose
        self.token = uuid.uuid4().hex
        self.host = socket.gethostname()[:200]

    async def try_take(self) -> VaultLock | None:
        """None when taken; else the current holder's row."""
        now = _now()
        mine: dict[str, Any] = {
            "token": self.token,
            "purpose": self.purpose,
            "pid": os.getpid(),
            "host": self.host,
            "acquired_at": now,
            "expires_at": now + LEASE,
        }
        try:
            await VaultLock.create(name=_NAME, **mine)
            return None
        except IntegrityError:
            pass
        row = await VaultLock.get_or_none(name=_NAME)
        if row is None:
            return await self.try_take()
        dead = row.host == self.host and not _alive(row.pid)
        if row.expires_at <= now or dead:
            taken = await VaultLock.filter(name=_NAME, token=row.token).update(**mine)
            if taken:
                return None
            row = await VaultLock.get_or_none(name=_NAME) or row
        return row

    async def renew(self) -> None:
        await VaultLock.filter(name=_NAME, token=self.token).update(expires_at=_now() + LEASE)

    async def release(self) -> None:
        await VaultLock.filter(name=_NAME, token=self.token).delete()


async def _keep_renewing(lease: _Lease) -> None:
    while True:
        await asyncio.sleep(LEASE.total_seconds() / 3)
        try:
            await lease.renew()
        except Exception as exc:  # the database blinked: the next renewal may still make it
            log.warning("vault: could not renew the maintenance lease: %s", type(exc).__name__)


@contextlib.asynccontextmanager
async def maintenance_lock(
    key_folder: Path | None,
    purpose: str,
    *,
    wait: float,
    on_wait: Callable[[str], None] | None = None,
) -> AsyncIterator[Held]:
    """Hold the file lock (when keys live in a file) and the database lease, or raise VaultBusy.

    ``wait`` bounds the time spent waiting for another holder; ``on_wait`` is told once whom we
    wait for, so a terminal shows why nothing happens.
    """
    held = Held(purpose)
    started = time.monotonic()
    deadline = started + max(0.0, wait)

    async def waiting(holder: str) -> None:
        if time.monotonic() >= deadline:
            raise VaultBusy(
                f"{holder}; waited {time.monotonic() - started:.0f} s. Try again when it has "
                "finished (or pass --wait SECONDS to wait longer)."
            )
        if held.waited_for is None:
            held.waited_for = holder
            if on_wait is not None:
                on_wait(holder)
        await asyncio.sleep(POLL_SECONDS)

    file_lock = _FileLock(key_folder) if key_folder is not None else None
    try:
        while file_lock is not None and not file_lock.try_take(purpose):
            await waiting(file_lock.holder())
        lease = _Lease(purpose)
        while (row := await lease.try_take()) is not None:
            since = row.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
            await waiting(_describe(row.purpose, since, row.pid, row.host))
        held.waited_seconds = time.monotonic() - started
        renewer = asyncio.create_task(_keep_renewing(lease))
        try:
            yield held
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            await lease.release()
    finally:
        if file_lock is not None:
            file_lock.release()
