"""Fixtures for the vault tests: an open database (SQLite and PostgreSQL) and fresh master keys."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.db import close_database, open_database
from credentials import detect
from credentials.keys import Keyring, generate


@pytest.fixture
async def vault_db(db_url: str) -> AsyncIterator[str]:
    """The real database of this parametrisation, migrated and open for the test."""
    await open_database(db_url)
    try:
        yield db_url
    finally:
        await close_database()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring((generate(),), "test keys")


@pytest.fixture(autouse=True)
def _forget_remembered_values() -> None:
    """Values remembered for redaction by one test must not make another pass by accident."""
    detect.forget_all()
