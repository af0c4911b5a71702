"""Shared fixtures: real SQLite and PostgreSQL databases, real Redis, isolated data dirs.

Under CI=true a missing PostgreSQL or Redis is a failure, not a skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.peers.openstack_fixture import openstack_cloud  # noqa: F401  (a fixture)

PG_HOST, PG_PORT = os.environ.get("QM_TEST_PG_HOST", "127.0.0.1"), 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def absent(message: str) -> NoReturn:
    """Something a test needs is not here: a skip on a user's machine, a failure under CI=true
    (where everything must be present)."""
    if IN_CI:
        pytest.fail(message + " (CI=true: it must be present)")
    pytest.skip(message)


def need_service(name: str, host: str, port: int) -> None:
    if not _reachable(host, port):
        absent(f"{name} is not reachable at {host}:{port}")


def need_libvirt() -> None:
    """libvirt-python (a dependency, built by ``make install``) is importable."""
    try:
        import libvirt  # noqa: F401
    except ImportError as exc:
        absent(f"libvirt-python is not installed ({exc}); `make install` builds it")


async def stop_process(process: Any) -> None:
    """Terminate a daemon started with ``asyncio.create_subprocess_exec``; kill it after 10 s."""
    import asyncio

    if process is None or process.returncode is not None:
        return
    process.terminate()
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test ever touches the user's real data directory."""
    home = tmp_path / "qm-home"
    monkeypatch.setenv("QUARTERMASTER_HOME", str(home))
    return home


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    async for url in _pg():
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'db.sqlite3'}"
    else:
        async for url in _pg():
            yield url


async def _pg() -> AsyncIterator[str]:
    need_service("PostgreSQL", PG_HOST, PG_PORT)
    name = f"qm_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_client() -> AsyncIterator[object]:
    """A Redis client whose keys live under a unique ``client.qm_prefix``, removed after."""
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    import redis.asyncio as aioredis

    client = aioredis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    prefix = f"qm-test-{uuid.uuid4().hex[:10]}:"
    client.qm_prefix = prefix  # type: ignore[attr-defined]
    try:
        yield client
    finally:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture(scope="session")
def nlu_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One model cache for the session: the first bot that loads the NLU trains it (~15 s)."""
    return tmp_path_factory.mktemp("nlu-model")


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


class SkillPackage:
    """A throw-away skills package on sys.path, for reload and pipeline tests."""

    def __init__(self, root: Path) -> None:
        self.name = f"qmt_{uuid.uuid4().hex[:8]}"
        self.path = root / self.name
        self.path.mkdir(parents=True)
        (self.path / "__init__.py").write_text("")

    def write(self, module: str, source: str) -> Path:
        import textwrap

        target = self.path / f"{module}.py"
        target.write_text(textwrap.dedent(source))
        return target


@pytest.fixture
def skill_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SkillPackage]:
    import sys

    root = tmp_path / "skillpkgs"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    pkg = SkillPackage(root)
    yield pkg
    for name in [m for m in sys.modules if m == pkg.name or m.startswith(pkg.name + ".")]:
        del sys.modules[name]


@pytest.fixture
async def libvirt_providers() -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Build ``LibvirtProvider``s on libvirt's in-process ``test:///default`` driver: call with
    extra settings (``max_memory_mb=…``); every one gets the same unique name prefix, so tests
    see only their own VMs. Their VMs are deleted and connections closed afterwards (the test
    driver forgets everything when its last connection closes)."""
    try:
        from skills._providers.libvirt import LibvirtProvider
    except ImportError as exc:
        absent(f"libvirt-python is not installed ({exc}); `make install` builds it")
    from bot.providers import no_progress

    prefix = f"qmt{uuid.uuid4().hex[:8]}-"
    made: list[Any] = []

    async def build(**settings: Any) -> Any:
        provider = LibvirtProvider({"uri": "test:///default", "name_prefix": prefix, **settings})
        made.append(provider)
        return provider

    yield build
    for provider in made:
        try:
            for vm in await provider.list():
                await provider.delete(vm.external_id, no_progress)
        finally:
            await provider.close()


@pytest.fixture
async def libvirt_provider(libvirt_providers: Callable[..., Awaitable[Any]]) -> Any:
    """One ``LibvirtProvider`` on ``test:///default`` with a unique name prefix (see
    ``libvirt_providers`` for one with other settings)."""
    return await libvirt_providers()


class Libvirtd:
    """A private ``libvirtd`` serving only the test driver on a unix socket in a throwaway
    directory: one test host shared between processes (``uri``), stoppable and restartable."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "libvirt-sock"
        self.uri = f"test+unix:///default?socket={self.socket}"
        (root / "nodrivers").mkdir()  # no QEMU driver: it would need a libvirt-qemu user
        (root / "libvirtd.conf").write_text(
            f'unix_sock_dir = "{root}"\nunix_sock_rw_perms = "0700"\n'
            'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
            f'log_outputs = "3:file:{root}/libvirtd.log"\n'
        )
        self.process: Any = None

    async def start(self) -> None:
        import asyncio
        import shutil

        binary = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
        self.socket.unlink(missing_ok=True)
        self.process = await asyncio.create_subprocess_exec(
            binary,
            "--config",
            str(self.root / "libvirtd.conf"),
            "--pid-file",
            str(self.root / "libvirtd.pid"),
            env={**os.environ, "LIBVIRT_DRIVER_DIR": str(self.root / "nodrivers")},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        for _ in range(200):
            if self.socket.exists():
                return
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.025)
        await self.stop()
        pytest.fail(f"libvirtd did not start; see {self.root / 'libvirtd.log'}")

    async def stop(self) -> None:

        process, self.process = self.process, None
        await stop_process(process)


@pytest.fixture
async def libvirtd() -> AsyncIterator[Libvirtd]:
    """A running private libvirtd with the test driver (Debian ``libvirt-daemon``), stopped
    after; under CI=true a missing binary fails."""
    import shutil
    import tempfile

    if shutil.which("libvirtd") is None and not Path("/usr/sbin/libvirtd").exists():
        absent("libvirtd is not installed (Debian: apt-get install libvirt-daemon)")
    # a short directory: unix socket paths are limited to about 100 characters
    async with _running(Libvirtd(Path(tempfile.mkdtemp(prefix="qmlv-")))) as daemon:
        yield daemon


@contextlib.asynccontextmanager
async def _running(daemon: Any) -> AsyncIterator[Any]:
    """Start a private daemon in its own directory; stop it and remove the directory after."""
    import shutil

    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()
        shutil.rmtree(daemon.root, ignore_errors=True)


class SessionLibvirtd:
    """A private ``libvirtd`` run as an unprivileged user (``nobody`` when the tests run as
    root): libvirt's *session* mode, whose QEMU driver needs no system set-up, and whose storage
    calls reach libvirt's real ``dir`` pool backend (``qemu-img`` does the qcow2 work) in a
    throwaway directory. ``pool`` is a transient pool there; ``uri`` reaches it all."""

    BINARIES = {
        "libvirtd": "libvirt-daemon",
        "qemu-img": "qemu-utils",
        "qemu-system-x86_64": "qemu-system-x86",
    }

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run = root / "run"
        self.pool_dir = root / "pool"
        self.pool = f"qmt-{uuid.uuid4().hex[:8]}"
        self.uri = f"qemu+unix:///session?socket={self.run}/libvirt-sock"
        for d in (self.run, self.pool_dir, root / "home"):
            d.mkdir(parents=True)
        (root / "libvirtd.conf").write_text(
            f'unix_sock_dir = "{self.run}"\nunix_sock_rw_perms = "0777"\n'
            'unix_sock_ro_perms = "0777"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n'
            f'log_outputs = "3:file:{root}/libvirtd.log"\n'
        )
        self.as_user: dict[str, Any] = {}
        if os.geteuid() == 0:  # session mode needs a user that is not root
            import pwd

            nobody = pwd.getpwnam("nobody")
            for path in (root, *root.rglob("*")):
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            self.as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        self.process: Any = None

    def chown(self, path: Path) -> None:
        """Give a file made by the test to the daemon's user (it must read and refresh it)."""
        if self.as_user:
            os.chown(path, self.as_user["user"], self.as_user["group"])

    async def start(self) -> None:
        import asyncio
        import shutil

        home = self.root / "home"
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(self.run),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
        }
        self.process = await asyncio.create_subprocess_exec(
            shutil.which("libvirtd", path=env["PATH"]) or "libvirtd",
            "--config",
            str(self.root / "libvirtd.conf"),
            env=env,
            cwd=str(self.root),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            **self.as_user,
        )
        for _ in range(400):
            if (self.run / "libvirt-sock").exists():
                break
            if self.process.returncode is not None:
                break
            await asyncio.sleep(0.025)
        else:
            await self.stop()
            pytest.fail(f"libvirtd did not start; see {self.root / 'libvirtd.log'}")
        if self.process.returncode is not None:
            pytest.fail(f"libvirtd exited; see {self.root / 'libvirtd.log'}")
        await asyncio.to_thread(self._make_pool)

    def _make_pool(self) -> None:
        import libvirt

        conn = libvirt.open(self.uri)
        try:
            conn.storagePoolCreateXML(
                f"<pool type='dir'><name>{self.pool}</name>"
                f"<target><path>{self.pool_dir}</path></target></pool>",
                0,
            )
        finally:
            conn.close()

    def _clear(self) -> None:
        """Stop every guest first: QEMU processes outlive a stopped libvirtd."""
        import libvirt

        conn = libvirt.open(self.uri)
        try:
            for dom in conn.listAllDomains(0):
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
        finally:
            conn.close()

    async def stop(self) -> None:
        import asyncio
        import contextlib

        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(self._clear), 30)
        await stop_process(process)


@pytest.fixture
async def session_libvirtd() -> AsyncIterator[SessionLibvirtd]:
    """A running private session-mode libvirtd with a real ``dir`` storage pool (Debian:
    libvirt-daemon, qemu-utils, qemu-system-x86), stopped after; under CI=true a missing
    package fails."""
    import shutil
    import tempfile

    path = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin"
    missing = [d for exe, d in SessionLibvirtd.BINARIES.items() if not shutil.which(exe, path=path)]
    if missing:
        absent(f"needs {', '.join(missing)} (Debian: apt-get install {' '.join(missing)})")
    need_libvirt()
    import libvirt

    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    root = Path(tempfile.mkdtemp(prefix="qmss-"))
    root.chmod(0o755)
    async with _running(SessionLibvirtd(root)) as daemon:
        yield daemon
