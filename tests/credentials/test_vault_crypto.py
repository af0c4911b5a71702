"""The vault's cryptographic properties on real databases: sealing, tampering, swaps, wrong keys."""

from __future__ import annotations

import asyncio
import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from bot.errors import UserError
from bot.storage.db import close_database, open_database
from credentials.errors import (
    InvalidSecret,
    MasterKeyMissing,
    SecretNotFound,
    SecretUnavailable,
    SecretUnreadable,
)
from credentials.keys import Keyring, generate
from credentials.models import DataKey, SealedSecret, SecretUse
from credentials.secret import Secret
from credentials.settings import VaultSettings
from credentials.vault import Vault

PLAIN = "os-app-cred-Zq8w3Xr5Tb2Lk9Vn7Mc4"
FAILS = (SecretUnreadable, MasterKeyMissing, SecretNotFound)


async def test_store_and_use_round_trip(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    info = await vault.store("test:alice", "openstack", PLAIN)
    assert (info.name, info.provider, info.version) == ("openstack", "openstack", 1)
    secret = await vault.use("test:alice", "openstack", skill="vm")
    assert isinstance(secret, Secret) and secret.reveal() == PLAIN
    row = await SealedSecret.get(owner="test:alice", name="openstack")
    assert PLAIN.encode() not in bytes(row.sealed)
    assert row.last_used_at is not None
    uses = await SecretUse.filter(owner="test:alice").values_list("name", "skill", "outcome")
    assert [tuple(u) for u in uses] == [("openstack", "vm", "ok")]
    again = await vault.store("test:alice", "openstack", PLAIN + "-new")
    assert again.version == 2
    assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == PLAIN + "-new"
    # there is no way for bob to ask for alice's secret: his name space is his own
    with pytest.raises(SecretNotFound):
        await vault.use("test:bob", "openstack", skill="vm")
    missing = await SecretUse.get(owner="test:bob")
    assert (missing.name, missing.outcome) == ("openstack", "missing")


async def test_wrong_master_key_fails_cleanly(vault_db: str, keyring: Keyring) -> None:
    await Vault(keyring).store("test:alice", "openstack", PLAIN)
    wrong = Keyring((generate(),), "environment variable QUARTERMASTER_MASTER_KEY")
    with pytest.raises(MasterKeyMissing) as caught:
        await Vault(wrong)._key_for("test:alice", 1)
    message = str(caught.value)
    assert "\n" not in message and keyring.primary.key_id in message
    for material in (keyring.primary, wrong.primary):
        assert material.encoded() not in message and material.encoded()[:12] not in message
    assert caught.value.__cause__ is None
    # the owner is told in a sentence what to do; the key ids are for the operator's log
    with pytest.raises(SecretUnavailable) as told:
        await Vault(wrong).use("test:alice", "openstack", skill="vm")
    assert str(told.value) == (
        "Your stored openstack secret can't be opened; store it again with "
        "`store my openstack token`."
    )
    assert told.value.__cause__ is None and isinstance(told.value, UserError)
    report = await Vault(wrong).verify()
    assert report.opened == 0 and [f[:2] for f in report.failures] == [("test:alice", "openstack")]


def _flip(value: Any) -> Any:
    """The same value with one byte (or character, or bit of a number) changed."""
    if isinstance(value, bytes | bytearray):
        raw = bytearray(value)
        raw[len(raw) // 2] ^= 0x01
        return bytes(raw)
    if isinstance(value, int):
        return value ^ 1
    return value[:-1] + chr(ord(value[-1]) ^ 0x01)


SECRET_FIELDS = ["owner", "name", "provider", "version", "key_version", "sealed"]
KEY_FIELDS = ["owner", "version", "master_key_id", "wrapped"]


async def test_a_flipped_byte_in_any_secret_field_fails(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    await vault.store("test:alice", "openstack", PLAIN)
    await vault.store("test:alicf", "openstacj", "other")  # a plausible flip target exists
    row = await SealedSecret.get(owner="test:alice", name="openstack")
    for field in SECRET_FIELDS:
        original = getattr(row, field)
        await SealedSecret.filter(id=row.id).update(**{field: _flip(original)})
        tampered = await SealedSecret.get(id=row.id)
        with pytest.raises(FAILS):
            await vault.use(tampered.owner, tampered.name, skill="vm")
        report = await vault.verify()
        assert (tampered.owner, tampered.name) in [(o, n) for o, n, _ in report.failures], field
        assert report.opened == 1, field
        await SealedSecret.filter(id=row.id).update(**{field: original})
    assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == PLAIN


async def test_a_flipped_byte_in_any_data_key_field_fails(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    await vault.store("test:alice", "openstack", PLAIN)
    row = await DataKey.get(owner="test:alice")
    for field in KEY_FIELDS:
        original = getattr(row, field)
        await DataKey.filter(id=row.id).update(**{field: _flip(original)})
        with pytest.raises(FAILS):
            await vault.use("test:alice", "openstack", skill="vm")
        assert (await vault.verify()).opened == 0, field
        await DataKey.filter(id=row.id).update(**{field: original})
    assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == PLAIN


async def test_every_byte_of_the_blobs_is_authenticated(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    await vault.store("test:alice", "openstack", PLAIN)
    blobs: list[tuple[Any, str]] = [(SealedSecret, "sealed"), (DataKey, "wrapped")]
    for model, field in blobs:
        row = await model.get(owner="test:alice")
        original = bytes(getattr(row, field))
        for i in range(len(original)):
            raw = bytearray(original)
            raw[i] ^= 0x80
            await model.filter(id=row.id).update(**{field: bytes(raw)})
            with pytest.raises(SecretUnreadable):
                await vault.use("test:alice", "openstack", skill="vm")
        await model.filter(id=row.id).update(**{field: original})
    assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == PLAIN


async def test_cross_user_and_cross_name_swaps_fail(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    await vault.store("test:alice", "openstack", "alice-openstack-value")
    await vault.store("test:alice", "aws", "alice-aws-value")
    await vault.store("test:bob", "openstack", "bob-openstack-value")
    alice_os = await SealedSecret.get(owner="test:alice", name="openstack")
    alice_aws = await SealedSecret.get(owner="test:alice", name="aws")
    bob_os = await SealedSecret.get(owner="test:bob", name="openstack")
    # alice's ciphertext copied over bob's (what a database admin could do)
    await SealedSecret.filter(id=bob_os.id).update(
        sealed=alice_os.sealed, key_version=alice_os.key_version
    )
    with pytest.raises(SecretUnreadable):
        await vault.use("test:bob", "openstack", skill="vm")
    # alice's aws ciphertext moved under her openstack name
    await SealedSecret.filter(id=alice_os.id).update(sealed=alice_aws.sealed)
    with pytest.raises(SecretUnreadable):
        await vault.use("test:alice", "openstack", skill="vm")
    # a row re-labelled as bob's, with bob's data key swapped in too
    alice_key = await DataKey.get(owner="test:alice")
    bob_key = await DataKey.get(owner="test:bob")
    await DataKey.filter(id=bob_key.id).update(wrapped=alice_key.wrapped)
    with pytest.raises(SecretUnreadable):
        await vault.use("test:bob", "openstack", skill="vm")
    assert (await vault.use("test:alice", "aws", skill="vm")).reveal() == "alice-aws-value"


async def test_bad_input_is_refused_with_a_reason(tmp_path: Path, keyring: Keyring) -> None:
    await open_database(f"sqlite://{tmp_path / 'v.sqlite3'}")
    try:
        await _bad_input(keyring)
    finally:
        await close_database()


async def _bad_input(keyring: Keyring) -> None:
    vault = Vault(keyring, VaultSettings(max_secret_bytes=64, max_secrets_per_user=2))
    with pytest.raises(InvalidSecret, match="empty"):
        await vault.store("test:alice", "aws", "   ")
    with pytest.raises(InvalidSecret, match="64 bytes"):
        await vault.store("test:alice", "aws", "x" * 65)
    with pytest.raises(InvalidSecret, match="can't be a secret name"):
        await vault.store("test:alice", "../etc", "value-1")
    await vault.store("test:alice", "a", "value-1")
    await vault.store("test:alice", "b", "value-2")
    with pytest.raises(InvalidSecret, match="most I keep"):
        await vault.store("test:alice", "c", "value-3")
    await vault.store("test:alice", "b", "value-2b")  # replacing is not adding
    assert [i.name for i in await vault.list("test:alice")] == ["a", "b"]


async def test_delete_and_list_show_no_values(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    await vault.store("test:alice", "openstack", PLAIN, provider="openstack")
    await vault.store("test:bob", "gh", "ghp_" + "x1" * 18, provider="github")
    listing = await vault.list()
    assert [(i.owner, i.name, i.provider) for i in listing] == [
        ("test:alice", "openstack", "openstack"),
        ("test:bob", "gh", "github"),
    ]
    assert PLAIN not in repr(listing)
    assert await vault.delete("test:alice", "openstack") is True
    assert await vault.delete("test:alice", "openstack") is False
    with pytest.raises(SecretNotFound):
        await vault.use("test:alice", "openstack", skill="vm")


def test_secret_never_shows_its_value(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(PLAIN, "openstack")
    with caplog.at_level(logging.INFO):
        logging.getLogger("a.careless.skill").info("using %s / %r", secret, secret)
    shown = [
        repr(secret),
        str(secret),
        f"{secret}",
        f"{secret!r}",
        caplog.text,
        repr([secret]),
        repr({"k": secret}),
    ]
    assert all(PLAIN not in s for s in shown)
    assert secret.reveal() == PLAIN and len(secret) == len(PLAIN)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret == Secret(PLAIN) and secret != Secret(PLAIN + "x")


async def test_concurrent_first_stores_share_one_data_key(vault_db: str, keyring: Keyring) -> None:
    vault = Vault(keyring)
    names = [f"n{i}" for i in range(5)] + ["same", "same"]
    await asyncio.gather(
        *(vault.store("test:zed", n, f"value-{i}-abcdef") for i, n in enumerate(names))
    )
    assert await DataKey.filter(owner="test:zed").count() == 1
    for i, name in enumerate(names[:5]):
        assert (await vault.use("test:zed", name, skill="t")).reveal() == f"value-{i}-abcdef"
    same = await SealedSecret.get(owner="test:zed", name="same")
    assert same.version == 2
    assert (await vault.use("test:zed", "same", skill="t")).reveal() in {
        "value-5-abcdef",
        "value-6-abcdef",
    }
