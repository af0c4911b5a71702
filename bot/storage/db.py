"""Opening the database: tortoise apps, migrations at start, and errors without credentials."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import pkgutil
from typing import Any

from bot.errors import StorageUnavailable
from bot.logs import redact_url

log = logging.getLogger(__name__)

#: the core's own tables; feature packages add theirs through the ``quartermaster.models`` group
CORE_APP = "bot"
CORE_MODELS = (["bot.storage.models"], "bot.storage.migrations")


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


def tortoise_config(url: str) -> dict[str, Any]:
    return {
        "connections": {"default": url},
        "apps": {
            label: {"models": models, "default_connection": "default", "migrations": migrations}
            for label, (models, migrations) in installed_apps().items()
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite://") and ":memory:" not in url:
        from pathlib import Path

        Path(url[len("sqlite://") :].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)


async def open_database(url: str, *, migrate: bool = True, timeout: float = 10.0) -> None:
    """Apply pending migrations and initialise tortoise; raise ``StorageUnavailable`` if down."""
    from tortoise import Tortoise

    _ensure_sqlite_dir(url)
    config = tortoise_config(url)
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
    log.debug("database ready: %s", redact_url(url))


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
