"""Node executors: run one command on many hosts, each with a timeout, a few at a time.

The interface is what node operations (drain, reboot, Puppet runs over SSH or Slurm) are built
on; implementations are found by name in the ``quartermaster.executors`` entry-point group.
``LocalExecutor`` runs the command on this machine (the host name is in ``$QM_HOST``): the
embedded default, and what the tests exercise without any remote system.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bot import plugins
from bot.errors import ConfigError

TAIL_BYTES = 4096  # what is kept of each stream: the end, where the error usually is


@dataclass(frozen=True, slots=True)
class CommandResult:
    host: str
    exit_status: int | None  # None when it timed out or could not start
    stdout: str  # the last TAIL_BYTES, decoded leniently
    stderr: str
    duration: float  # seconds
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0 and not self.timed_out


@runtime_checkable
class NodeExecutor(Protocol):
    name: str

    async def run(
        self, hosts: Sequence[str], command: str, *, timeout: float, concurrency: int = 10
    ) -> dict[str, CommandResult]:
        """Run ``command`` on every host, at most ``concurrency`` at once, each limited to
        ``timeout`` seconds; one result per host, in the order of ``hosts``."""
        ...


def executor_from_config(name: str, config: Mapping[str, Any] | None = None) -> NodeExecutor:
    """Build the executor ``name`` (entry point) with its settings; ``ConfigError`` if not."""
    try:
        factory = plugins.load(plugins.EXECUTORS, name)
    except plugins.PluginError as exc:
        raise ConfigError(f"executors.{name}: {exc}") from None
    executor = factory(**dict(config or {}))
    if not isinstance(executor, NodeExecutor):
        raise ConfigError(f"executors.{name}: {type(executor).__name__} is not a NodeExecutor")
    return executor


class LocalExecutor:
    """Runs the command with ``/bin/sh -c`` here, once per host (``$QM_HOST`` names it)."""

    name = "local"

    def __init__(self, shell: str = "/bin/sh") -> None:
        self.shell = shell

    async def run(
        self, hosts: Sequence[str], command: str, *, timeout: float, concurrency: int = 10
    ) -> dict[str, CommandResult]:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        slots = asyncio.Semaphore(concurrency)

        async def one(host: str) -> CommandResult:
            async with slots:
                return await self._run_one(host, command, timeout)

        results = await asyncio.gather(*(one(h) for h in hosts))
        return {r.host: r for r in results}

    async def _run_one(self, host: str, command: str, timeout: float) -> CommandResult:
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                self.shell,
                "-c",
                command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, "QM_HOST": host},
                start_new_session=True,
            )  # its own process group: a timeout kills it all
        except OSError as exc:
            return CommandResult(
                host, None, "", f"could not start: {exc.strerror}", time.monotonic() - started
            )
        assert proc.stdout is not None and proc.stderr is not None
        reads = asyncio.gather(proc.stdout.read(), proc.stderr.read())
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            timed_out = True
        except BaseException:
            _kill_group(proc.pid)  # cancelled: never leave the command running
            reads.cancel()
            raise
        if timed_out:
            _kill_group(proc.pid)
            await proc.wait()
        out, err = await reads  # what was written before the end (or the kill)
        return CommandResult(
            host,
            None if timed_out else proc.returncode,
            _tail(out),
            _tail(err),
            time.monotonic() - started,
            timed_out=timed_out,
        )


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _tail(data: bytes | None) -> str:
    return (data or b"")[-TAIL_BYTES:].decode("utf-8", errors="replace")
