"""Fixtures for the loans tests: a real bare git repository as the Hiera remote, a colleague's
clone of it, a real SMTP sink, and a bot configured with a small node inventory."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

INVENTORY = {
    "gpu01": {"kind": "gpu", "rack": "r1"},
    "gpu02": {"kind": "gpu", "rack": "r1"},
    "gpu03": {"kind": "gpu", "rack": "r2"},
    "gpu04": {"kind": "gpu", "rack": "r2"},
    "arm01": {"kind": "arm", "rack": "r3"},
    "arm02": {"kind": "arm", "rack": "r3"},
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=Colleague", "-c", "user.email=c@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout


class Remote:
    """The site's Puppet data repository: a bare repo, and a colleague's clone of it."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "puppet.git"
        self.clone = root / "colleague"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.bare))
        git(root, "clone", "-q", str(self.bare), str(self.clone))
        (self.clone / "README").write_text("Puppet data\n")
        git(self.clone, "add", "README")
        git(self.clone, "commit", "-q", "-m", "initial")
        git(self.clone, "push", "-q", "origin", "HEAD:main")

    def pull(self) -> None:
        git(self.clone, "pull", "-q", "--rebase", "origin", "main")

    def file(self, relpath: str) -> str:
        self.pull()
        path = self.clone / relpath
        return path.read_text() if path.exists() else ""

    def log(self) -> list[str]:
        self.pull()
        return git(self.clone, "log", "--format=%s").splitlines()


@pytest.fixture
def remote(tmp_path: Path) -> Remote:
    return Remote(tmp_path)


def loan_overrides(remote: Remote, workdir: Path, **loans: Any) -> dict[str, Any]:
    return {
        "loans": {
            "hiera_repo": str(workdir / "hiera"),
            "remote": str(remote.bare),
            "inventory": INVENTORY,
            **loans,
        }
    }


class Sink:
    """Collects what a real SMTP server on 127.0.0.1 received."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.port = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def subjects(self, to: str) -> list[str]:
        from email import message_from_bytes

        return [
            str(message_from_bytes(m.content)["Subject"]) for m in self.messages if to in m.rcpt_tos
        ]


@pytest.fixture
async def smtp() -> AsyncIterator[Sink]:
    from aiosmtpd.smtp import SMTP

    sink = Sink()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="test"), "127.0.0.1", 0
    )
    sink.port = server.sockets[0].getsockname()[1]
    try:
        yield sink
    finally:
        server.close()
        await server.wait_closed()
