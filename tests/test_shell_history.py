"""The interactive shell's history file never receives a pasted secret."""

from pathlib import Path

from bot.adapters.shell import ShellAdapter, guarded_history
from bot.app import Application
from bot.config import Settings


async def test_secret_lines_and_vault_answers_stay_out_of_the_history_file(tmp_path: Path):
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite://{tmp_path / 'db.sqlite3'}"},
            "adapters": {"shell": {"user": "ann"}},
        }
    )
    async with Application(settings, adapters=[ShellAdapter], load_nlu=False) as app:
        shell = app.adapters["shell"]
        assert isinstance(shell, ShellAdapter)
        path = tmp_path / "history"
        history = guarded_history(str(path), shell.keep_in_history)
        history.store_string("ping")
        history.store_string("my token is ghp_0123456789abcdefghijABCDEFGHIJ012345")
        await shell.say_as_local("store my openstack token")  # the vault now waits
        history.store_string("s3cret-but-ordinary-looking")
        await shell.say_as_local("cancel")
        history.store_string("whoami")
        lines = [line[1:] for line in path.read_text().splitlines() if line.startswith("+")]
    assert lines == ["ping", "whoami"]
