"""Master-key rotation end to end: pick (or make) the new key, re-wrap, retire unused keys.

Order matters for safety: a generated key is written (atomically, fsynced) to the key file
*before* any data key is wrapped with it, and an old key leaves the file only when no data key
uses it. So a rotation killed at any point leaves every data key openable, and re-running
``quartermaster vault rotate-master`` resumes towards the same new key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from credentials.keys import Keyring, append_retired, generate, write_key_file
from credentials.models import DataKey, Rotation
from credentials.settings import VaultSettings
from credentials.vault import Audit, Progress, RotationReport, Vault


@dataclass
class MasterRotation:
    report: RotationReport
    generated: str | None = None  # id of a key written to the key file
    retired: list[str] = field(default_factory=list)
    retired_file: Path | None = None
    remove_from_env: list[str] = field(default_factory=list)


async def _choose_target(keyring: Keyring) -> tuple[Keyring, str | None]:
    """The keyring to rotate with, primary first; a new key is generated for key files."""
    pending = await Rotation.filter(finished_at=None).order_by("-id").first()
    if pending is not None and keyring.get(pending.target_key_id) is not None:
        target = keyring.get(pending.target_key_id)
        assert target is not None
        if keyring.path is None or target == keyring.primary:
            return keyring, None
        keys = (target, *(k for k in keyring.keys if k != target))
        write_key_file(keyring.path, keys)
        return Keyring(keys, keyring.source, keyring.path), None
    in_use = set(await DataKey.all().distinct().values_list("master_key_id", flat=True))
    if keyring.path is None or in_use - {keyring.primary.key_id}:
        return keyring, None  # env keys: the operator puts the new key first
    new = generate()
    keys = (new, *keyring.keys)
    write_key_file(keyring.path, keys)
    return Keyring(keys, keyring.source, keyring.path), new.key_id


async def rotate_master_keys(
    keyring: Keyring,
    settings: VaultSettings,
    *,
    audit: Audit | None = None,
    progress: Progress | None = None,
) -> tuple[MasterRotation, Keyring]:
    """Run (or resume) a master-key rotation; returns what happened and the keyring now in use."""
    keyring, generated = await _choose_target(keyring)
    vault = Vault(keyring, settings, audit=audit)
    report = await vault.rotate_master(progress)
    result = MasterRotation(report, generated)
    if not report.ok or not settings.retire_unused_keys:
        return result, keyring
    in_use = set(await vault.keys_in_use())
    unused = tuple(k for k in keyring.keys[1:] if k.key_id not in in_use)
    if not unused:
        return result, keyring
    result.retired = [k.key_id for k in unused]
    if keyring.path is None:
        result.remove_from_env = result.retired
        return result, keyring
    kept = tuple(k for k in keyring.keys if k not in unused)
    result.retired_file = append_retired(keyring.path, unused)
    write_key_file(keyring.path, kept)
    return result, Keyring(kept, keyring.source, keyring.path)
