"""A lost master key: refuse to start, and the explicit way out (``vault recover``).

When data keys in the database are wrapped by a master key that is not configured, generating a
fresh key and starting would leave those users with secrets nobody can open, forever and
silently. So the start is refused with the missing key ids and both ways out: restore the key
file from backup, or run ``quartermaster vault recover --retire-orphaned``, which deletes the
data keys and secrets nobody can open (audited) and queues a notice to each owner, delivered by
the bot once it runs again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tortoise.transactions import in_transaction

from bot.errors import ConfigError
from credentials.errors import KeysLost
from credentials.keys import DEFAULT_FILE, ENV_VAR, Keyring, load_keyring, parse_key
from credentials.models import DataKey, SealedSecret, VaultNotice
from credentials.settings import VaultSettings
from credentials.vault import Audit

RECOVER = "quartermaster vault recover --retire-orphaned"


@dataclass
class Orphans:
    """Data keys whose master key is not configured, and the secrets they seal."""

    key_ids: list[str] = field(default_factory=list)
    data_keys: int = 0
    secrets: dict[str, list[str]] = field(default_factory=dict)  # owner -> secret names

    def __bool__(self) -> bool:
        return bool(self.key_ids)


def key_file_path(settings: VaultSettings, environ: Mapping[str, str] | None = None) -> Path | None:
    """The key file the keyring comes from (None when the keys are in the environment)."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR, "").strip():
        return None
    if settings.key_file is not None:
        return settings.key_file.expanduser()
    from bot.paths import data_dir

    return data_dir() / DEFAULT_FILE


async def master_keys_in_use() -> set[str]:
    return {str(k) for k in await DataKey.all().distinct().values_list("master_key_id", flat=True)}


async def find_orphans(configured: set[str]) -> Orphans:
    orphans = Orphans()
    rows = await DataKey.exclude(master_key_id__in=list(configured)).order_by("owner", "version")
    orphans.key_ids = sorted({r.master_key_id for r in rows})
    orphans.data_keys = len(rows)
    for row in rows:
        names = await SealedSecret.filter(owner=row.owner, key_version=row.version).values_list(
            "name", flat=True
        )
        if names:
            orphans.secrets.setdefault(row.owner, []).extend(sorted(str(n) for n in names))
    return orphans


def _retired_holds(path: Path | None, key_ids: list[str]) -> list[str]:
    """Ids among ``key_ids`` still kept in ``FILE.retired`` (retired too early, or by hand)."""
    if path is None:
        return []
    retired = path.with_name(path.name + ".retired")
    try:
        text = retired.read_text(encoding="utf-8")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        body = line.split("#", 1)[0].strip()
        if body:
            try:
                found.append(parse_key(body, str(retired)).key_id)
            except ConfigError:
                continue
    return [k for k in key_ids if k in found]


def refusal(orphans: Orphans, source: str, path: Path | None) -> KeysLost:
    """One line: which keys are missing, for how many users, and the two ways out."""
    users = len({*orphans.secrets})
    secrets = sum(len(v) for v in orphans.secrets.values())
    restore = (
        f"restore the key file {path} from its backup"
        if path is not None
        else f"put the missing key(s) back into {ENV_VAR}"
    )
    retired = _retired_holds(path, orphans.key_ids)
    hint = (
        f" (key(s) {', '.join(retired)} are still in {path}.retired: move those lines back "
        f"into {path})"
        if retired and path is not None
        else ""
    )
    return KeysLost(
        f"vault: refusing to start: {orphans.data_keys} data key(s) ({secrets} secret(s) of "
        f"{users} user(s)) are wrapped by master key(s) {', '.join(orphans.key_ids)}, which "
        f"{source} does not hold. Either {restore}{hint} and start again, or run `{RECOVER}` "
        "to delete the secrets nobody can open (their owners are told on the next start). "
        "See docs/operations.md."
    )


async def open_keyring(
    settings: VaultSettings, environ: Mapping[str, str] | None = None
) -> Keyring:
    """The keyring to run with; raise ``KeysLost`` when stored data keys need a missing key.

    A missing default key file is generated only while no data key exists: with data keys, a
    new key would hide the loss. Other key problems stay ``ConfigError``s.
    """
    in_use = await master_keys_in_use()
    path = key_file_path(settings, environ)
    if in_use and path is not None and not path.exists():
        raise refusal(await find_orphans(set()), f"the missing key file {path}", path)
    keyring = load_keyring(settings, environ=environ, create=not in_use)
    if in_use - set(keyring.ids):
        if keyring.path is not None:  # a rotation may have changed both meanwhile: look again
            keyring = load_keyring(settings, environ=environ, create=False)
        orphans = await find_orphans(set(keyring.ids))
        if orphans:
            raise refusal(orphans, keyring.source, path)
    return keyring


def notice_text(names: list[str]) -> str:
    listed = ", ".join(f"`{n}`" for n in names)
    one = len(names) == 1
    return (
        f"Your stored secret{'' if one else 's'} {listed} could not be kept: the vault's master "
        f"key that sealed {'it' if one else 'them'} was lost, so an admin deleted "
        f"{'it' if one else 'them'} (nobody can open {'it' if one else 'them'} any more). "
        f"Store {'it' if one else 'them'} again when you next need {'it' if one else 'them'}, "
        f"e.g. `store my {names[0]} token`."
    )


async def retire_orphans(configured: set[str], audit: Audit | None = None) -> Orphans:
    """Delete the data keys wrapped by unconfigured master keys and the secrets they seal, in
    one transaction, queueing a notice per owner; the caller holds the maintenance lock."""
    async with in_transaction() as conn:
        orphans = Orphans()
        rows = await (
            DataKey.exclude(master_key_id__in=list(configured))
            .using_db(conn)
            .select_for_update()
            .order_by("owner", "version")
        )
        orphans.key_ids = sorted({r.master_key_id for r in rows})
        orphans.data_keys = len(rows)
        for row in rows:
            secrets = SealedSecret.filter(owner=row.owner, key_version=row.version)
            names = sorted(
                str(n) for n in await secrets.using_db(conn).values_list("name", flat=True)
            )
            await secrets.using_db(conn).delete()
            await DataKey.filter(id=row.id).using_db(conn).delete()
            if names:
                orphans.secrets.setdefault(row.owner, []).extend(names)
        for owner, names in orphans.secrets.items():
            await VaultNotice.create(owner=owner, text=notice_text(names), using_db=conn)
    if audit is not None:
        for owner, names in orphans.secrets.items():
            audit.record(
                "cli", "vault.retire-orphaned", owner, "ok", secrets=names, keys=orphans.key_ids
            )
    return orphans
