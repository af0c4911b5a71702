"""Where Quartermaster keeps its files: one data directory, overridable for tests and deploys."""

from __future__ import annotations

import os
from pathlib import Path

from bot.private import private_dir

APP_NAME = "quartermaster"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir(create: bool = True) -> Path:
    """The data directory (SQLite file, model cache, master key).

    ``QUARTERMASTER_HOME`` wins so that tests, containers and several bots on one host never share
    state by accident; otherwise the platform's user data directory.
    """
    home = os.environ.get("QUARTERMASTER_HOME")
    if home:
        path = Path(home).expanduser()
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir(APP_NAME, appauthor=False))
    if create:
        private_dir(path)  # 0700: requests, audit and conversations are nobody else's business
    return path


def config_dir() -> Path:
    """The directory holding ``quartermaster.yml``, NLU data and workflows.

    ``QUARTERMASTER_CONFIG_DIR`` overrides; the default is the ``config/`` folder of the checkout,
    which is what the quick start runs from.
    """
    override = os.environ.get("QUARTERMASTER_CONFIG_DIR")
    return Path(override).expanduser() if override else PROJECT_ROOT / "config"


def nlu_paths() -> dict[str, Path]:
    """Where the bot keeps the NLU's training data and model cache: handed to
    ``NLUSettings.located`` by its callers, since ``nlu/`` knows nothing about the bot."""
    return {"data": config_dir() / "nlu", "model_dir": data_dir() / "nlu"}
