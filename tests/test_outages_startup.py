"""Start-up errors of the database are one clear line on stderr, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def qm(*args: str, home: Path, database: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUARTERMASTER_HOME": str(home),
        "USER": "tester",
        "QUARTERMASTER__DATABASE__URL": database,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input="ping\n",
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quartermaster: error: ")
    return lines[0]


@pytest.mark.parametrize("command", [["run"], ["chat", "--script", "-"]])
def test_a_folder_that_cannot_be_created_is_one_line(tmp_path: Path, command: list[str]) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    url = f"sqlite://{blocker / 'data' / 'qm.sqlite3'}"
    line = one_error_line(qm(*command, home=tmp_path / "home", database=url))
    assert "cannot create the folder" in line and str(blocker / "data") in line


@pytest.mark.parametrize("command", [["run"], ["chat", "--script", "-"]])
def test_a_file_that_is_not_a_database_is_named(tmp_path: Path, command: list[str]) -> None:
    bogus = tmp_path / "notes.sqlite3"
    bogus.write_text("these are my notes, not a database\n" * 20)
    bogus.chmod(0o600)  # private, so the only line is the error (an open one is also warned of)
    line = one_error_line(qm(*command, home=tmp_path / "home", database=f"sqlite://{bogus}"))
    assert f"{bogus} is not an SQLite database" in line
    assert "did not answer" not in line
    assert bogus.read_text().startswith("these are my notes")  # left as it was
