"""Master keys: where they come from, how they are named, and how a new one is added safely.

Master keys never touch the database. They come from ``QUARTERMASTER_MASTER_KEY`` (production,
one or more base64 keys separated by commas), from ``vault.key_file``, or -- on a first start with
neither -- from a key file generated in the data directory. The first key is the *primary*: it
wraps new data keys. The others stay until no data key uses them (see ``rotate-master``).

A key's id is derived from the key (HMAC), so the database records which key wrapped what without
storing anything that helps to guess it, and a wrong key is reported as "not configured".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import ConfigError
from credentials.envelope import KEY_BYTES, new_key
from credentials.settings import VaultSettings

log = logging.getLogger(__name__)

ENV_VAR = "QUARTERMASTER_MASTER_KEY"
DEFAULT_FILE = "vault-master.key"
_HEADER = """\
# Quartermaster vault master keys (base64, one per line). KEEP SECRET, mode 0600.
# The first key wraps new data keys; the others are kept until no data key uses them.
# Back this file up separately from the database: without it the vault cannot be opened.
"""


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    material: bytes = field(repr=False)

    @classmethod
    def from_material(cls, material: bytes) -> MasterKey:
        return cls(key_id_of(material), material)

    def encoded(self) -> str:
        return base64.urlsafe_b64encode(self.material).decode()


def key_id_of(material: bytes) -> str:
    """A short public fingerprint of a key (16 hex digits of an HMAC keyed by the key)."""
    return hmac.new(material, b"quartermaster vault master key id", hashlib.sha256).hexdigest()[:16]


def generate() -> MasterKey:
    return MasterKey.from_material(new_key())


def parse_key(text: str, where: str) -> MasterKey:
    """Decode one base64 key; the error says where it came from, never what it was."""
    text = text.strip()
    try:
        material = base64.urlsafe_b64decode(
            text.replace("+", "-").replace("/", "_") + "=" * (-len(text) % 4)
        )
    except (binascii.Error, ValueError):
        raise ConfigError(
            f"{where}: a master key must be base64 text "
            "(make one with `quartermaster vault new-key`)"
        ) from None
    if len(material) != KEY_BYTES:
        raise ConfigError(
            f"{where}: a master key must be {KEY_BYTES} bytes of base64, "
            f"this one is {len(material)} bytes"
        )
    return MasterKey.from_material(material)


@dataclass(frozen=True)
class Keyring:
    """The configured master keys, primary first, and where they came from."""

    keys: tuple[MasterKey, ...]
    source: str
    path: Path | None = None  # set when the keys live in a file the vault may rewrite

    @property
    def primary(self) -> MasterKey:
        return self.keys[0]

    @property
    def ids(self) -> list[str]:
        return [k.key_id for k in self.keys]

    def get(self, key_id: str) -> MasterKey | None:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None


def load_keyring(
    settings: VaultSettings, *, environ: Mapping[str, str] | None = None, create: bool = True
) -> Keyring:
    """The keyring from the environment, the configured file, or the default file.

    With ``create`` a missing default file is generated (mode 0600) with a warning saying where it
    is; a missing *configured* file is an error, since generating one would hide a deploy mistake.
    """
    environ = os.environ if environ is None else environ
    value = environ.get(ENV_VAR, "").strip()
    if value:
        where = f"environment variable {ENV_VAR}"
        parts = [p for p in value.replace("\n", ",").split(",") if p.strip()]
        keys = tuple(parse_key(p, f"{where} (key {i})") for i, p in enumerate(parts, start=1))
        return Keyring(_unique(keys), where)
    if settings.key_file is not None:
        path = settings.key_file.expanduser()
        if not path.exists():
            raise ConfigError(f"vault.key_file: {path} does not exist")
        return read_key_file(path, "vault.key_file")
    from bot.paths import data_dir

    path = data_dir() / DEFAULT_FILE
    if not path.exists():
        if not create:
            raise ConfigError(
                f"no vault master key: set {ENV_VAR}, or vault.key_file, or start "
                f"the bot once to create {path}"
            )
        key = generate()
        write_key_file(path, (key,))
        log.warning(
            "created a new vault master key in %s (mode 0600). Back this file up now, "
            "somewhere safe and separate from the database backups: without it nobody "
            "can open the stored secrets. In production set %s or vault.key_file "
            "instead (see docs/vault.md).",
            path,
            ENV_VAR,
        )
    return read_key_file(path, "vault master key file")


def read_key_file(path: Path, what: str) -> Keyring:
    """Read a key file, refusing one that other users could read."""
    try:
        mode = path.stat().st_mode & 0o777
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if mode & 0o077:
        raise ConfigError(
            f"{what}: {path} is readable by other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    keys = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        body = line.split("#", 1)[0].strip()
        if body:
            keys.append(parse_key(body, f"{what}: {path} line {lineno}"))
    if not keys:
        raise ConfigError(f"{what}: {path} holds no key")
    return Keyring(_unique(tuple(keys)), f"key file {path}", path)


def write_key_file(path: Path, keys: tuple[MasterKey, ...]) -> None:
    """Replace ``path`` atomically with ``keys`` (mode 0600, fsynced before it is used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    lines = [_HEADER] + [f"{k.encoded()}  # id {k.key_id}, written {stamp}\n" for k in keys]
    _atomic_write(path, "".join(lines))


def append_retired(path: Path, keys: tuple[MasterKey, ...]) -> Path:
    """Keep retired keys in ``FILE.retired`` (0600): old database backups still need them."""
    retired = path.with_name(path.name + ".retired")
    previous = (
        retired.read_text(encoding="utf-8")
        if retired.exists()
        else (
            "# Retired vault master keys: only needed to restore database backups taken before\n"
            "# they were retired. Delete a line once no such backup is kept.\n"
        )
    )
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    previous += "".join(f"{k.encoded()}  # id {k.key_id}, retired {stamp}\n" for k in keys)
    _atomic_write(retired, previous)
    return retired


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _unique(keys: tuple[MasterKey, ...]) -> tuple[MasterKey, ...]:
    seen: dict[str, MasterKey] = {}
    for key in keys:
        seen.setdefault(key.key_id, key)
    return tuple(seen.values())
