"""The data folder and what the bot writes into it are readable by its owner only (issue #13.11)."""

from __future__ import annotations

import logging
import stat
import sys
from pathlib import Path

import pytest

from bot.logs import setup_logging
from bot.paths import data_dir
from bot.testing import TestBot


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> object:
    """The usual 022 umask, whatever the test runner's, so 'private' comes from the bot."""
    import os

    old = os.umask(0o022)
    yield
    os.umask(old)


async def test_a_fresh_start_creates_a_private_folder_database_and_journal(
    open_umask: object, _isolated_home: Path
) -> None:
    home = data_dir()
    db = home / "quartermaster.sqlite3"
    async with TestBot.create(home, overrides={"database.url": f"sqlite://{db}"}) as bot:
        await bot.grant("root", "admin")  # writes: the journal files exist now
        await bot.say("alice", "ping")
        journal = [p for p in home.iterdir() if p.name.startswith(db.name + "-")]
        assert journal, "SQLite wrote no -wal/-shm/-journal file to check"
        for path in journal:
            assert mode(path) == 0o600, path.name
    assert mode(home) == 0o700
    assert mode(db) == 0o600


def test_the_log_file_is_created_private(open_umask: object, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "quartermaster.log"
    try:
        setup_logging("INFO", log_file)
        logging.getLogger("test").info("a line")
    finally:
        setup_logging("INFO", stream=False)
    assert mode(log_file) == 0o600
    assert mode(log_file.parent) == 0o700
    assert "a line" in log_file.read_text()


async def test_an_open_folder_and_database_are_reported_and_left_alone(
    open_umask: object,
    _isolated_home: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = _isolated_home
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    db = home / "old.sqlite3"
    db.touch()
    db.chmod(0o644)
    caplog.set_level(logging.WARNING)
    async with TestBot.create(home, overrides={"database.url": f"sqlite://{db}"}) as bot:
        await bot.say("alice", "ping")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"run `chmod 700 {home}`" in w and "0755" in w for w in warnings), warnings
    assert any(f"run `chmod 600 {db}*`" in w and "0644" in w for w in warnings), warnings
    assert mode(home) == 0o755 and mode(db) == 0o644  # warn only: the operator decides
    # the shell logs to a file: the warning also reaches the terminal
    assert f"chmod 700 {home}" in capsys.readouterr().err


async def test_the_warning_is_given_once_per_process(
    open_umask: object, _isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = _isolated_home
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        async with TestBot.create(home):
            pass
    assert len([r for r in caplog.records if "chmod 700" in r.getMessage()]) == 1


async def test_a_private_setup_gives_no_warning(
    open_umask: object, _isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with TestBot.create(data_dir()):
        pass
    assert not [r for r in caplog.records if "chmod" in r.getMessage()]


def test_the_shell_history_is_created_private(open_umask: object, tmp_path: Path) -> None:
    from bot.adapters.shell import guarded_history

    path = tmp_path / "shell_history"
    guarded_history(str(path), lambda line: True).store_string("request a GPU")
    assert mode(path) == 0o600
    assert "request a GPU" in path.read_text()


def test_stderr_is_not_used_when_the_log_already_goes_there(
    _isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.private import announce_open

    home = _isolated_home
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    handler = logging.StreamHandler(sys.stderr)
    logging.getLogger().addHandler(handler)
    try:
        found = announce_open(home, "postgres://db/qm")
    finally:
        logging.getLogger().removeHandler(handler)
    assert found and "quartermaster: warning:" not in capsys.readouterr().err
