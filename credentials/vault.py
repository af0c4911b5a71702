"""The vault service: store, use, list and delete a user's secrets, verify and rotate keys.

Envelope encryption: each user has a data key (random, 256 bits) wrapped by a master key; each
secret is sealed with its owner's data key. Every method takes the owner explicitly and opens only
that owner's rows, so there is no call that reads another user's secret -- and the associated data
makes a row copied to another owner or name fail to open even if someone edits the database.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.errors import ConfigError
from bot.services import ServiceKey
from credentials import detect
from credentials.envelope import SealError, associated_data, new_key, open_sealed, seal
from credentials.errors import (
    InvalidSecret,
    MasterKeyMissing,
    SecretNotFound,
    SecretUnavailable,
    SecretUnreadable,
)
from credentials.keys import Keyring, read_key_file
from credentials.models import DataKey, SealedSecret, SecretUse
from credentials.secret import Secret
from credentials.settings import VaultSettings

log = logging.getLogger(__name__)

NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
PROVIDER = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
Progress = Callable[[int, int], None]


class Audit(Protocol):
    def record(
        self, actor: str, kind: str, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class SecretInfo:
    """What may be shown about a secret: everything except its value."""

    owner: str
    name: str
    provider: str
    version: int
    created_at: datetime
    updated_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: SealedSecret) -> SecretInfo:
        return cls(
            row.owner,
            row.name,
            row.provider,
            row.version,
            row.created_at,
            row.updated_at,
            row.last_used_at,
        )


@dataclass
class VerifyReport:
    opened: int = 0
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # owner, name, why
    keys_in_use: dict[str, int] = field(default_factory=dict)  # master key id -> count

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class RotationReport:
    target: str
    rewrapped: int = 0
    already: int = 0
    failures: list[tuple[str, int, str]] = field(default_factory=list)  # owner, version, why
    resumed: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures


def normalise_name(name: str, what: str = "name") -> str:
    clean = name.strip().lower()
    if not NAME.fullmatch(clean):
        raise InvalidSecret(
            f"`{name[:40]}` can't be a secret {what}: use 1-64 letters, digits, "
            "dots, dashes or underscores, starting with a letter or digit."
        )
    return clean


def _secret_aad(owner: str, name: str, provider: str, version: int, key_version: int) -> bytes:
    return associated_data("qm-secret-v1", owner, name, provider, version, key_version)


def _key_aad(owner: str, version: int, master_key_id: str) -> bytes:
    return associated_data("qm-data-key-v1", owner, version, master_key_id)


class Vault:
    def __init__(
        self, keyring: Keyring, settings: VaultSettings | None = None, *, audit: Audit | None = None
    ) -> None:
        self.keyring = keyring
        self.settings = settings or VaultSettings()
        self.audit = audit

    # -- data keys -----------------------------------------------------------------------------
    def _reload_keys(self) -> None:
        """Re-read a key file: ``rotate-master`` may have run in another process meanwhile."""
        if self.keyring.path is not None:
            try:
                self.keyring = read_key_file(self.keyring.path, "vault master key file")
            except ConfigError as exc:  # gone or broken since start: keep the keys we have
                log.error("vault: %s; going on with the keys read before", exc)

    def _unwrap(self, row: DataKey) -> bytes:
        master = self.keyring.get(row.master_key_id)
        if master is None and self.keyring.path is not None:
            self._reload_keys()
            master = self.keyring.get(row.master_key_id)
        if master is None:
            raise MasterKeyMissing(
                f"the data key of {row.owner} is wrapped by master key {row.master_key_id}, "
                f"which is not configured ({self.keyring.source} has "
                f"{', '.join(self.keyring.ids)}): the wrong master key is set, or an old one "
                "was removed before rotate-master finished"
            )
        try:
            return open_sealed(
                master.material, row.wrapped, _key_aad(row.owner, row.version, row.master_key_id)
            )
        except SealError:
            raise SecretUnreadable(
                f"the data key of {row.owner} (version {row.version}) does not open with master "
                f"key {row.master_key_id}: it was modified in the database"
            ) from None

    def _wrap(self, owner: str, version: int, key: bytes) -> tuple[str, bytes]:
        master = self.keyring.primary
        return master.key_id, seal(master.material, key, _key_aad(owner, version, master.key_id))

    async def _current_key(self, owner: str, conn: Any = None) -> tuple[int, bytes]:
        """The owner's active data key (see ``_ensure_key``), unwrapped."""
        row = await (
            DataKey.filter(owner=owner, active=True).using_db(conn).order_by("-version").first()
        )
        if row is None:
            raise SecretUnreadable(f"{owner} has no data key")
        return row.version, self._unwrap(row)

    async def _ensure_key(self, owner: str) -> None:
        """Create the owner's first data key, wrapped by the primary key, in its own statement.

        Outside the caller's transaction on purpose: when two tasks race, the loser's unique-key
        violation must not abort (PostgreSQL) the transaction that stores the secret.
        """
        for _attempt in range(3):
            latest = await DataKey.filter(owner=owner).order_by("-version").first()
            if latest is not None and latest.active:
                return
            version = (latest.version + 1) if latest else 1
            self._reload_keys()  # wrap new keys with the current primary, not a retired one
            key_id, wrapped = self._wrap(owner, version, new_key())
            try:
                await DataKey.create(
                    owner=owner, version=version, master_key_id=key_id, wrapped=wrapped
                )
                return
            except IntegrityError:  # another task created it first: use theirs
                continue
        raise SecretUnreadable(f"could not create a data key for {owner}")

    async def _key_for(self, owner: str, version: int, conn: Any = None) -> bytes:
        row = await DataKey.filter(owner=owner, version=version).using_db(conn).first()
        if row is None:
            raise SecretUnreadable(f"the data key version {version} of {owner} is missing")
        return self._unwrap(row)

    def _open(self, row: SealedSecret, key: bytes) -> str:
        try:
            plain = open_sealed(
                key,
                row.sealed,
                _secret_aad(row.owner, row.name, row.provider, row.version, row.key_version),
            )
        except SealError:
            raise SecretUnreadable(
                f"the secret {row.name!r} of {row.owner} does not open: it was modified or moved "
                "in the database; store it again"
            ) from None
        return plain.decode()

    # -- the user-facing API -------------------------------------------------------------------
    async def store(
        self, owner: str, name: str, value: str | Secret, *, provider: str | None = None
    ) -> SecretInfo:
        """Seal ``value`` as the owner's secret ``name`` (a new version if it exists)."""
        name = normalise_name(name)
        provider = normalise_name(provider or name, "provider")[:32]
        plain = value.reveal() if isinstance(value, Secret) else value
        if not plain.strip():
            raise InvalidSecret("That was empty, so I stored nothing.")
        data = plain.encode()
        if len(data) > self.settings.max_secret_bytes:
            raise InvalidSecret(
                f"That is longer than the {self.settings.max_secret_bytes} bytes "
                "I accept for one secret, so I stored nothing."
            )
        detect.remember(plain)
        try:
            row = await self._seal(owner, name, provider, data)
        except (MasterKeyMissing, SecretUnreadable) as exc:
            log.error("vault: cannot seal a secret for %s: %s", owner, exc)
            raise SecretUnavailable(
                "I couldn't seal that: your vault key can't be opened right now, so I stored "
                "nothing. An admin can see why in my log."
            ) from None
        self._record(owner, "vault.store", name, "ok", provider=provider, version=row.version)
        return SecretInfo.of(row)

    async def _seal(self, owner: str, name: str, provider: str, data: bytes) -> SealedSecret:
        await self._ensure_key(owner)
        try:
            return await self._seal_row(owner, name, provider, data)
        except IntegrityError:  # a concurrent first store of the same name won: update it
            return await self._seal_row(owner, name, provider, data)

    async def _seal_row(self, owner: str, name: str, provider: str, data: bytes) -> SealedSecret:
        async with in_transaction() as conn:
            existing = await (
                SealedSecret.filter(owner=owner, name=name)
                .using_db(conn)
                .select_for_update()
                .first()
            )
            if existing is None:
                count = await SealedSecret.filter(owner=owner).using_db(conn).count()
                if count >= self.settings.max_secrets_per_user:
                    raise InvalidSecret(
                        f"You already have {count} secrets, the most I keep per person. "
                        "Delete one you no longer need first."
                    )
            key_version, key = await self._current_key(owner, conn)
            version = existing.version + 1 if existing else 1
            sealed = seal(key, data, _secret_aad(owner, name, provider, version, key_version))
            if existing is None:
                return await SealedSecret.create(
                    owner=owner,
                    name=name,
                    provider=provider,
                    version=version,
                    key_version=key_version,
                    sealed=sealed,
                    using_db=conn,
                )
            existing.provider, existing.version = provider, version
            existing.key_version, existing.sealed = key_version, sealed
            await existing.save(using_db=conn)
            return existing

    async def secret_for_user(self, user_key: str, name: str, *, skill: str) -> Secret:
        """``SecretSource`` for ``ctx.secret``: the requesting user's own secret (``use``)."""
        return await self.use(user_key, name, skill=skill)

    async def use(self, owner: str, name: str, *, skill: str) -> Secret:
        """The owner's secret for ``skill``; every call is written to the use log and audit."""
        name = normalise_name(name)
        row = await SealedSecret.get_or_none(owner=owner, name=name)
        if row is None:
            await self._log_use(owner, name, skill, "missing")
            raise SecretNotFound(
                f"You have no secret called {name!r} in the vault. Say "
                f"`store my {name} token` to add one."
            )
        try:
            key = await self._key_for(owner, row.key_version)
            plain = self._open(row, key)
        except (SecretUnreadable, MasterKeyMissing) as exc:
            await self._log_use(owner, name, skill, "unreadable")
            log.warning(
                "vault: secret %r of %s failed to open for skill %s: %s", name, owner, skill, exc
            )
            raise SecretUnavailable.of(row.name, row.provider) from None
        detect.remember(plain)
        now = datetime.now(UTC)
        await SealedSecret.filter(id=row.id).update(last_used_at=now)
        await self._log_use(owner, name, skill, "ok")
        return Secret(plain, name)

    async def info(self, owner: str, name: str) -> SecretInfo | None:
        row = await SealedSecret.get_or_none(owner=owner, name=normalise_name(name))
        return SecretInfo.of(row) if row else None

    async def list(self, owner: str | None = None) -> list[SecretInfo]:
        """Names, providers and dates (never values): one owner's, or everyone's for operators."""
        query = SealedSecret.all() if owner is None else SealedSecret.filter(owner=owner)
        return [SecretInfo.of(r) for r in await query.order_by("owner", "name")]

    async def delete(self, owner: str, name: str) -> bool:
        deleted = await SealedSecret.filter(owner=owner, name=normalise_name(name)).delete()
        if deleted:
            self._record(owner, "vault.delete", name, "ok")
        return bool(deleted)

    # -- operations ----------------------------------------------------------------------------
    async def keys_in_use(self) -> dict[str, int]:
        """Master key id -> how many data keys it wraps."""
        counts: dict[str, int] = {}
        for key_id in await DataKey.all().values_list("master_key_id", flat=True):
            counts[str(key_id)] = counts.get(str(key_id), 0) + 1
        return counts

    async def verify(self) -> VerifyReport:
        """Open every secret in memory; count successes and name failures (never values)."""
        report = VerifyReport(keys_in_use=await self.keys_in_use())
        keys: dict[tuple[str, int], bytes | str] = {}
        for row in await SealedSecret.all().order_by("owner", "name"):
            slot = (row.owner, row.key_version)
            if slot not in keys:
                try:
                    keys[slot] = await self._key_for(*slot)
                except (SecretUnreadable, MasterKeyMissing) as exc:
                    keys[slot] = str(exc)
            key = keys[slot]
            if isinstance(key, str):
                report.failures.append((row.owner, row.name, key))
                continue
            try:
                self._open(row, key)
                report.opened += 1
            except SecretUnreadable as exc:
                report.failures.append((row.owner, row.name, str(exc)))
        return report

    async def rotate_user(self, owner: str) -> int:
        """Give ``owner`` a new data key and re-seal their secrets with it, all or nothing."""
        async with in_transaction() as conn:
            rows = await SealedSecret.filter(owner=owner).using_db(conn).select_for_update()
            old = await DataKey.filter(owner=owner).using_db(conn).select_for_update()
            if not rows and not old:
                raise SecretNotFound(f"{owner} has nothing in the vault")
            keys = {r.version: self._unwrap(r) for r in old}
            plains = []
            for row in rows:
                if row.key_version not in keys:
                    raise SecretUnreadable(
                        f"the data key version {row.key_version} of {owner} is missing"
                    )
                plains.append(self._open(row, keys[row.key_version]))
            version = max(keys, default=0) + 1
            key = new_key()
            key_id, wrapped = self._wrap(owner, version, key)
            await DataKey.create(
                owner=owner, version=version, master_key_id=key_id, wrapped=wrapped, using_db=conn
            )
            for row, plain in zip(rows, plains, strict=True):
                row.key_version = version
                row.sealed = seal(
                    key,
                    plain.encode(),
                    _secret_aad(owner, row.name, row.provider, row.version, version),
                )
                await row.save(using_db=conn, update_fields=["key_version", "sealed"])
            await DataKey.filter(owner=owner, version__lt=version).using_db(conn).delete()
        self._record(
            "cli", "vault.rotate-user", owner, "ok", secrets=len(rows), key_version=version
        )
        return len(rows)

    # -- records -------------------------------------------------------------------------------
    def _record(self, actor: str, kind: str, target: str, outcome: str, **detail: Any) -> None:
        if self.audit is not None:
            self.audit.record(actor, kind, target, outcome, **detail)

    async def _log_use(self, owner: str, name: str, skill: str, outcome: str) -> None:
        await SecretUse.create(owner=owner, name=name, skill=skill[:64], outcome=outcome)
        self._record(owner, "vault.use", f"{owner}/{name}", outcome, skill=skill)


#: the vault service, for skills that manage secrets (it is also the core's ``SECRETS`` source)
VAULT: ServiceKey[Vault] = ServiceKey("vault", Vault)
