"""Master keys from the environment, a configured file or a generated file; vault settings."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from bot.errors import ConfigError
from credentials.keys import (
    ENV_VAR,
    Keyring,
    generate,
    load_keyring,
    read_key_file,
    write_key_file,
)
from credentials.settings import VaultSettings, vault_settings


def test_first_start_generates_a_0600_key_file_and_says_where(
    _isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="credentials.keys"):
        ring = load_keyring(VaultSettings(), environ={})
    path = _isolated_home / "vault-master.key"
    assert ring.path == path and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    warning = " ".join(r.getMessage() for r in caplog.records)
    assert str(path) in warning and "Back this file up" in warning
    assert ring.primary.encoded() not in warning
    again = load_keyring(VaultSettings(), environ={})  # same key next start, no warning
    assert again.ids == ring.ids


def test_environment_keys_win_primary_first() -> None:
    new, old = generate(), generate()
    ring = load_keyring(
        VaultSettings(key_file=Path("/nonexistent")),
        environ={ENV_VAR: f"{new.encoded()}, {old.encoded()}"},
    )
    assert ring.ids == [new.key_id, old.key_id] and ring.path is None
    assert ring.get(old.key_id) == old and ring.get("0" * 16) is None


def test_bad_environment_key_names_the_variable_not_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        load_keyring(VaultSettings(), environ={ENV_VAR: "c2hvcnQtYnV0LXZhbGlkLWJhc2U2NA"})
    assert ENV_VAR in str(caught.value) and "c2hvcnQ" not in str(caught.value)
    with pytest.raises(ConfigError, match="base64"):
        load_keyring(VaultSettings(), environ={ENV_VAR: "not base64 at all!!"})


def test_configured_key_file_must_exist_and_be_private(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "master.key"
    with pytest.raises(ConfigError, match=r"vault\.key_file: .* does not exist"):
        load_keyring(VaultSettings(key_file=path), environ={})
    key = generate()
    write_key_file(path, (key,))
    assert load_keyring(VaultSettings(key_file=path), environ={}).ids == [key.key_id]
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        load_keyring(VaultSettings(key_file=path), environ={})


def test_key_file_keeps_several_keys_and_ignores_comments(tmp_path: Path) -> None:
    a, b = generate(), generate()
    path = tmp_path / "k"
    write_key_file(path, (a, b))
    text = path.read_text()
    assert text.startswith("#") and f"id {a.key_id}" in text
    ring = read_key_file(path, "test")
    assert ring.ids == [a.key_id, b.key_id] and ring.primary == a


def test_key_ids_are_stable_and_do_not_reveal_the_key() -> None:
    key = generate()
    assert Keyring((key,), "x").ids == [key.key_id]
    assert len(key.key_id) == 16 and key.key_id not in key.encoded()
    assert key.encoded() not in repr(key)


def test_vault_settings_errors_name_the_key() -> None:
    assert vault_settings({"key_file": "/etc/qm/vault.key"}).key_file == Path("/etc/qm/vault.key")
    with pytest.raises(ConfigError) as caught:
        vault_settings({"max_secret_bytes": 0, "colour": "blue"}, "/etc/qm.yml")
    lines = str(caught.value).splitlines()
    assert any(line.startswith("/etc/qm.yml: vault.max_secret_bytes:") for line in lines)
    assert any(line.startswith("/etc/qm.yml: vault.colour: unknown key") for line in lines)
