"""The data folder holds requests, audit and conversations: only its owner may read it.

On a shared login node the default modes (0755 folders, 0644 files) let every other user read the
database and the log. What the bot creates is made private (folders 0700, files 0600); what already
exists is left alone and reported once, with the ``chmod`` that fixes it, since changing modes
the operator may have chosen on purpose is not the bot's call.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OPEN_BITS = stat.S_IRWXG | stat.S_IRWXO

_announced: set[str] = set()


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with the folder itself 0700; an existing folder
    keeps its mode."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 if it does not exist yet, so whatever opens it later
    (logging, SQLite, prompt_toolkit) writes into a private file; an existing file is untouched.

    SQLite gives its -wal and -shm files the mode of the database file, so a private database
    keeps its journal private too.
    """
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def sqlite_file(url: str) -> Path | None:
    """The database file of a ``sqlite://PATH`` URL; None for other databases and ``:memory:``."""
    if not url.startswith("sqlite://") or ":memory:" in url:
        return None
    return Path(url[len("sqlite://") :].split("?", 1)[0])


def open_to_others(path: Path) -> int | None:
    """The permission bits when group or others have any access to ``path``, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return None
    return mode if mode & _OPEN_BITS else None


def open_warnings(folder: Path, database: Path | None) -> list[str]:
    """One sentence per path other users can read, naming the ``chmod`` that closes it."""
    found: list[str] = []
    mode = open_to_others(folder)
    if mode is not None:
        found.append(
            f"the data folder {folder} is open to other users (mode {mode:04o}): "
            f"run `chmod 700 {folder}`"
        )
    if database is not None:
        mode = open_to_others(database)
        if mode is not None:
            found.append(
                f"the database {database} is open to other users (mode {mode:04o}): "
                f"run `chmod 600 {database}*`"
            )
    return found


def prepare_database_file(url: str) -> None:
    """Before SQLite opens it: a new database file (and its folder) is created private.

    Errors are left for the database layer, which reports them in its own words.
    """
    path = sqlite_file(url)
    if path is None:
        return
    try:
        private_file(path)
    except OSError:
        return


def announce_open(folder: Path, database_url: str) -> list[str]:
    """Warn once per process about open paths: in the log, and on stderr too when the log goes
    only to a file (the shell), so the operator at the terminal sees it."""
    found = [w for w in open_warnings(folder, sqlite_file(database_url)) if w not in _announced]
    for warning in found:
        _announced.add(warning)
        log.warning("%s", warning)
        if not _logs_reach_stderr():
            print(f"quartermaster: warning: {warning}", file=sys.stderr)
    return found


def _logs_reach_stderr() -> bool:
    return any(getattr(h, "stream", None) is sys.stderr for h in logging.getLogger().handlers)


def secure_storage(database_url: str) -> None:
    """At start, before the database opens: a new SQLite file is created private, and an open
    data folder or database is reported."""
    from bot.paths import data_dir

    prepare_database_file(database_url)
    announce_open(data_dir(), database_url)
