"""The git working copy of the site's Puppet data: every change one commit, pushed.

Changes are serialised (an asyncio lock in this process and ``flock`` on a file in ``.git`` for
other processes and reloads). Each change starts from the remote's branch, writes every file
to a temporary name and renames it, commits once with a message naming the request, and
pushes. A push the remote rejects because it moved meanwhile is rebased onto the new remote
and pushed again (re-applied from scratch when the rebase conflicts), a few times. Whatever
fails, the working copy is reset to the remote, so it is never left half-edited.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import signal
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.errors import UserError

log = logging.getLogger(__name__)

Edit = Callable[[str], "str | None"]  # old text ("" for a new file) -> new text, None: delete
_USERINFO = re.compile(r"(\w+://)[^/@\s]{1,200}@")
#: the remote moved: a non-fast-forward refusal, or a ref that changed while we pushed (not
#: "[remote rejected]" in general: a hook that declines is not fixed by trying again)
_REJECTED = ("[rejected]", "non-fast-forward", "fetch first", "cannot lock ref")
_locks: dict[Path, asyncio.Lock] = {}


class GitError(UserError):
    """A git step failed; the message names the step (credentials in URLs are cut out)."""


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    out: str
    err: str


class WorkingCopy:
    def __init__(
        self,
        path: Path,
        remote: str,
        branch: str = "main",
        *,
        timeout: float = 30.0,
        attempts: int = 3,
        author: str = "Quartermaster <quartermaster@localhost>",
    ) -> None:
        self.path = path
        self.remote = remote
        self.branch = branch
        self.timeout = timeout
        self.attempts = attempts
        name, _, email = author.partition("<")
        self.author_name = name.strip() or "Quartermaster"
        self.author_email = email.rstrip(">").strip() or "quartermaster@localhost"
        self.pushes = 0
        self.rejected_pushes = 0

    # -- git --------------------------------------------------------------------------------
    async def git(self, *args: str, check: bool = True) -> Result:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_AUTHOR_NAME": self.author_name,
            "GIT_AUTHOR_EMAIL": self.author_email,
            "GIT_COMMITTER_NAME": self.author_name,
            "GIT_COMMITTER_EMAIL": self.author_email,
            "LC_ALL": "C",
        }
        proc = await asyncio.create_subprocess_exec(
            "git",
            "-c",
            "commit.gpgsign=false",
            *args,
            cwd=self.path,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise GitError(f"git {args[0]} took longer than {self.timeout:g} s") from None
        result = Result(
            proc.returncode or 0, out.decode(errors="replace"), err.decode("utf-8", "replace")
        )
        if check and result.code != 0:
            raise GitError(f"git {args[0]} failed: {_first_line(result.err)}")
        return result

    async def ensure(self) -> None:
        """A working copy at ``path`` whose ``origin`` is the configured remote."""
        if not (self.path / ".git").is_dir():
            self.path.mkdir(parents=True, exist_ok=True)
            await self.git("init", "-q", "-b", self.branch)
            await self.git("remote", "add", "origin", self.remote)
        else:
            current = await self.git("remote", "get-url", "origin", check=False)
            if current.code != 0:
                await self.git("remote", "add", "origin", self.remote)
            elif current.out.strip() != self.remote:
                await self.git("remote", "set-url", "origin", self.remote)

    async def sync(self) -> bool:
        """Make the working copy the remote's branch; False when the remote has none yet."""
        await self.git("fetch", "-q", "origin")
        has = await self.git(
            "rev-parse", "--verify", "-q", f"refs/remotes/origin/{self.branch}", check=False
        )
        if has.code == 0:
            await self.git("checkout", "-q", "-B", self.branch, f"origin/{self.branch}")
            await self.git("reset", "-q", "--hard", f"origin/{self.branch}")
        await self.git("clean", "-q", "-fd")
        return has.code == 0

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        lock = _locks.setdefault(self.path.resolve(), asyncio.Lock())
        async with lock:
            await self.ensure()
            fd = os.open(self.path / ".git" / "quartermaster.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                await _flock(fd, self.timeout)
                yield
            finally:
                os.close(fd)

    # -- changing files ---------------------------------------------------------------------
    async def read(self, relpath: str) -> str:
        """A file as the remote has it now (under the lock: ``change`` reads for itself)."""
        async with self.locked():
            await self.sync()
            return _read(self.path / relpath)

    async def change(self, edits: Mapping[str, Edit], message: str) -> str | None:
        """Apply ``edits`` (file -> function of its text) as one pushed commit; its id, or None
        when nothing changed."""
        async with self.locked():
            try:
                return await self._change(edits, message)
            except BaseException:
                with contextlib.suppress(Exception):
                    await self._reset()
                raise

    async def _change(self, edits: Mapping[str, Edit], message: str) -> str | None:
        for _attempt in range(self.attempts):
            remote_has_branch = await self.sync()
            if not await asyncio.to_thread(self._apply, edits):
                return None
            await self.git("add", "-A", "--", *edits)
            await self.git("commit", "-q", "-m", message)
            if await self._push():
                return (await self.git("rev-parse", "HEAD")).out.strip()
            if not remote_has_branch:
                continue
            # the remote moved: fetch it, put our commit on top, try once more
            await self.git("fetch", "-q", "origin")
            rebased = await self.git("rebase", "-q", f"origin/{self.branch}", check=False)
            if rebased.code != 0:
                await self.git("rebase", "--abort", check=False)
                continue  # conflicting edits: start again from the new remote
            if await self._push():
                return (await self.git("rev-parse", "HEAD")).out.strip()
        raise GitError(
            f"the remote kept changing: {self.attempts} pushes were rejected; nothing was changed"
        )

    async def _push(self) -> bool:
        result = await self.git(
            "push", "-q", "origin", f"HEAD:refs/heads/{self.branch}", check=False
        )
        if result.code == 0:
            self.pushes += 1
            return True
        if any(word in result.err for word in _REJECTED):
            self.rejected_pushes += 1
            log.info("push to the Hiera remote rejected (it moved); rebasing")
            return False
        raise GitError(f"git push failed: {_first_line(result.err)}")

    def _apply(self, edits: Mapping[str, Edit]) -> bool:
        """Write each new text to a temporary file and rename it; True if anything changed."""
        changed = False
        for relpath, edit in edits.items():
            target = self.path / relpath
            if not target.resolve().is_relative_to(self.path.resolve()):
                raise GitError(f"{relpath} is outside the working copy")
            old = _read(target)
            new = edit(old)
            if new is None:
                if target.exists():
                    target.unlink()
                    changed = True
                continue
            if new == old and target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.qm-tmp")
            tmp.write_text(new, encoding="utf-8")
            tmp.replace(target)
            changed = True
        return changed

    async def _reset(self) -> None:
        await self.git("rebase", "--abort", check=False)
        has = await self.git(
            "rev-parse", "--verify", "-q", f"refs/remotes/origin/{self.branch}", check=False
        )
        if has.code == 0:
            await self.git("reset", "-q", "--hard", f"origin/{self.branch}", check=False)
        await self.git("clean", "-q", "-fd", check=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[-1] if lines else "no output"
    return _USERINFO.sub(r"\1", line)[:200]


async def _flock(fd: int, timeout: float) -> None:
    """Take an exclusive ``flock`` without blocking the event loop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if loop.time() > deadline:
                raise GitError("the Hiera working copy is locked by another process") from None
            await asyncio.sleep(0.05)
