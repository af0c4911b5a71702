"""Opening the database: tortoise apps, migrations at start, and errors without credentials.

Every query has a time limit (``database.timeout_seconds``): asyncpg's ``command_timeout`` and
connect ``timeout`` on PostgreSQL, and ``answering()`` around what the driver's limits do not
cover. A database that stalls or refuses then surfaces as ``DatabaseNotAnswering`` (or is
recognised by ``is_outage``), which users see as one clear sentence instead of a hung turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import pkgutil
from collections.abc import AsyncIterator
from typing import Any

from bot.errors import DatabaseNotAnswering, StorageUnavailable
from bot.logs import redact_url

log = logging.getLogger(__name__)

#: the core's own tables; feature packages add theirs through the ``quartermaster.models`` group
CORE_APP = "bot"
CORE_MODELS = (["bot.storage.models"], "bot.storage.migrations")
DEFAULT_QUERY_TIMEOUT = 5.0
#: the limit of the open database; ``open_database`` sets it from the settings
query_timeout = DEFAULT_QUERY_TIMEOUT
#: where an exception must have passed to be a database's (see ``is_outage``)
_DRIVER_MODULES = ("tortoise.", "asyncpg.", "aiosqlite.", "sqlite3.")


def installed_apps() -> dict[str, tuple[list[str], str]]:
    """tortoise apps, label -> (model modules, migrations package): the core's, then one per
    ``quartermaster.models`` entry point (a module exposing ``MODELS`` and ``MIGRATIONS``).

    A plug-in that fails to load is logged and left out, so a broken optional package does not
    keep the bot from starting; the skills that need its tables fail to load and say so."""
    from bot.plugins import MODELS, PluginError, declared

    apps = {CORE_APP: CORE_MODELS}
    for label, plugin in sorted(declared(MODELS).items()):
        if label == CORE_APP:
            log.error(
                "%s declares the reserved models label %r; ignored", plugin.distribution, label
            )
            continue
        try:
            module = plugin.load()
            apps[label] = (list(module.MODELS), str(module.MIGRATIONS))
        except (PluginError, AttributeError) as exc:
            log.error("models of %r are not installed: %s", label, exc)
    return apps


def connection_config(url: str, timeout: float | None = None) -> str | dict[str, Any]:
    """tortoise's connection entry: the URL, or the expanded URL with SQLite's pragmas or, for
    PostgreSQL, asyncpg's per-query (``command_timeout``) and connect (``timeout``) limits,
    which the URL cannot carry as numbers."""
    from tortoise.backends.base.config_generator import expand_db_url

    expanded = expand_db_url(url)
    credentials = expanded["credentials"]
    if expanded["engine"] == "tortoise.backends.sqlite":
        # WAL (tortoise's default) with synchronous=NORMAL: a commit no longer waits for an
        # fsync, so a slow disk cannot stall every conversation; a killed process still loses
        # nothing (a power cut may lose the last commits; production runs PostgreSQL)
        credentials.setdefault("synchronous", "NORMAL")
        return expanded
    if timeout is None or expanded["engine"] != "tortoise.backends.asyncpg":
        return url
    credentials.setdefault("command_timeout", timeout)
    credentials.setdefault("timeout", timeout)
    return expanded


def tortoise_config(url: str, timeout: float | None = None) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(url, timeout)},
        "apps": {
            label: {"models": models, "default_connection": "default", "migrations": migrations}
            for label, (models, migrations) in installed_apps().items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_file(url: str) -> None:
    """The folder of an SQLite file exists, and the file (if any) is a database: each problem
    as one sentence, not a traceback or a misleading time-out."""
    if not url.startswith("sqlite://") or ":memory:" in url:
        return
    from pathlib import Path

    path = Path(url[len("sqlite://") :].split("?", 1)[0])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot create the folder {path.parent} for the database: {exc.strerror or exc}"
        ) from None
    try:
        with path.open("rb") as file:
            header = file.read(16)
    except FileNotFoundError:
        from bot.private import prepare_database_file

        prepare_database_file(url)  # a new database: created private (0600) for every command
        return
    except OSError as exc:
        raise StorageUnavailable(f"cannot open the database {path}: {exc.strerror}") from None
    if header and header != b"SQLite format 3\x00":
        raise StorageUnavailable(f"{path} is not an SQLite database")


async def open_database(
    url: str,
    *,
    migrate: bool = True,
    timeout: float = 10.0,
    query_timeout: float = DEFAULT_QUERY_TIMEOUT,
) -> None:
    """Apply pending migrations and initialise tortoise; raise ``StorageUnavailable`` if down.

    ``timeout`` bounds the start; ``query_timeout`` every later query (see the module doc)."""
    from tortoise import Tortoise

    _ensure_sqlite_file(url)
    config = tortoise_config(url, query_timeout)
    try:
        async with asyncio.timeout(timeout):
            await Tortoise.init(config=config)
            connection = Tortoise.get_connection("default")
            if not migrate:
                await connection.execute_query("SELECT 1")
            elif not await _up_to_date(connection, config):
                from tortoise.migrations.api import migrate as run_migrations

                await Tortoise.close_connections()
                await run_migrations(config=config)
                await Tortoise.close_connections()
                await Tortoise.init(config=config)
                await Tortoise.get_connection("default").execute_query("SELECT 1")
    except TimeoutError:
        await _close_quietly()
        raise StorageUnavailable(
            f"database {redact_url(url)} did not answer within {timeout:.0f} s"
        ) from None
    except (OSError, ConnectionError) as exc:
        await _close_quietly()
        raise StorageUnavailable(
            f"cannot connect to database {redact_url(url)}: {exc.strerror or exc}"
        ) from None
    except Exception as exc:  # drivers raise their own families (asyncpg, sqlite3)
        await _close_quietly()
        detail = redact_url(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise StorageUnavailable(f"database {redact_url(url)} failed: {detail}") from None
    _set_query_timeout(query_timeout)
    log.debug("database ready: %s", redact_url(url))


def _set_query_timeout(seconds: float) -> None:
    global query_timeout
    query_timeout = seconds


@contextlib.asynccontextmanager
async def answering(what: str = "the database") -> AsyncIterator[None]:
    """Bound a block of queries by ``query_timeout``; a stall or a refused connection raises
    ``DatabaseNotAnswering`` (for what the driver's own limits do not cover: SQLite, batches,
    several queries in a row)."""
    try:
        async with asyncio.timeout(query_timeout):
            yield
    except DatabaseNotAnswering:
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError):
            raise DatabaseNotAnswering(
                f"{what}: the database did not answer within {query_timeout:g} s"
            ) from exc
        if is_outage(exc):
            raise DatabaseNotAnswering(
                f"{what}: the database is not answering ({type(exc).__name__})"
            ) from exc
        raise


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is away (refused, cut, stalled), not a bug.

    Connection errors of the drivers count wherever they come from; a plain ``OSError`` or
    ``TimeoutError`` only when it was raised inside the database driver, so a slow web call
    of a provider is not mistaken for the database."""
    if isinstance(exc, StorageUnavailable):
        return True
    from tortoise.exceptions import DBConnectionError

    if isinstance(exc, DBConnectionError):
        return True
    try:
        import asyncpg
    except ImportError:  # pragma: no cover - asyncpg is a dependency
        asyncpg = None
    if asyncpg is not None:
        gone = (
            asyncpg.PostgresConnectionError,  # cut, refused, rejected
            asyncpg.exceptions.OperatorInterventionError,  # shutting down, cannot connect now
            asyncpg.exceptions.TooManyConnectionsError,
        )
        if isinstance(exc, gone):
            return True
        if isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc):
            return True  # other interface errors (bad data, misuse) are bugs
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError included
        return _raised_in_driver(exc)
    return False


def _raised_in_driver(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def _disk_migrations(config: dict[str, Any]) -> set[tuple[str, str]] | None:
    """(app, name) of every migration file, as tortoise's loader finds them; None if an app's
    migrations are not a package (then tortoise decides what that means)."""
    found: set[tuple[str, str]] = set()
    for label, app in config["apps"].items():
        spec = importlib.util.find_spec(app["migrations"])
        if spec is None or spec.submodule_search_locations is None:
            return None
        found.update(
            (label, name)
            for _, name, is_pkg in pkgutil.iter_modules(spec.submodule_search_locations)
            if not is_pkg and name[0] not in "_~"
        )
    return found


async def _up_to_date(connection: Any, config: dict[str, Any]) -> bool:
    """True when every migration on disk is recorded as applied: one query, which doubles as
    the health check. tortoise's ``migrate`` would reach the same empty plan, but only after
    importing every migration, building its graph and a recorder model (~35 ms of each start).
    Anything unexpected -- no migrations table yet, a new file -- means "run ``migrate``"."""
    disk = _disk_migrations(config)
    if disk is None:
        return False
    try:
        _, rows = await connection.execute_query(
            "SELECT app, name FROM tortoise_migrations"
        )  # tortoise's MigrationRecorder table
    except Exception:
        return False
    return disk <= {(row["app"], row["name"]) for row in rows}


async def _close_quietly() -> None:
    from tortoise import Tortoise

    try:
        await Tortoise.close_connections()
    except Exception:
        log.debug("closing a failed database connection raised", exc_info=True)


async def close_database() -> None:
    from tortoise import Tortoise

    if Tortoise._inited:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()
    # tortoise caches compiled INSERT/UPDATE SQL per (connection name, table), not per dialect:
    # a process that reopens on another backend (tests, `db migrate` then run) would send SQLite
    # placeholders to PostgreSQL.
    from tortoise.backends.base.executor import EXECUTOR_CACHE

    EXECUTOR_CACHE.clear()
