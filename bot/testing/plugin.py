"""pytest plugin (entry point ``quartermaster``): the ``qm_bot`` fixture for skill tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.testing.harness import TestBot


@pytest.fixture
async def qm_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestBot]:
    """A started bot on a fresh SQLite file, talking through the in-memory test adapter."""
    monkeypatch.setenv("QUARTERMASTER_HOME", str(tmp_path))
    async with TestBot.create(tmp_path) as bot:
        yield bot
