"""Master-key rotation end to end: pick (or make) the new key, re-wrap, retire unused keys.

Order matters for safety: a generated key is written (atomically, fsynced) to the key file
*before* any data key is wrapped with it, and an old key leaves the file only when no data key
uses it. So a rotation killed at any point leaves every data key openable, and re-running
``quartermaster vault rotate-master`` resumes towards the same new key.

Only one rotation runs at a time (``credentials.lock``), and it re-reads the key file once it
holds the lock: a keyring read before waiting may miss a key the previous holder added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tortoise.transactions import in_transaction

from credentials.errors import MasterKeyMissing, SecretUnreadable
from credentials.keys import Keyring, append_retired, generate, read_key_file, write_key_file
from credentials.lock import maintenance_lock
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
    waited_for: str | None = None  # the holder this run waited for
    done_meanwhile: bool = False  # that holder finished a rotation: nothing left to do


def current(keyring: Keyring) -> Keyring:
    """The keyring as it is now: a key file is read again (another run may have changed it)."""
    if keyring.path is None:
        return keyring
    return read_key_file(keyring.path, "vault master key file")


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
    wait: float = 120.0,
    on_wait: Callable[[str], None] | None = None,
) -> tuple[MasterRotation, Keyring]:
    """Run (or resume) a master-key rotation under the maintenance lock; returns what happened
    and the keyring now in use. Raises ``VaultBusy`` when another run holds the lock longer than
    ``wait`` seconds; when it finished a rotation meanwhile, this one does nothing more."""
    latest = await Rotation.all().order_by("-id").first()
    newest = latest.id if latest is not None else 0
    running = {r.id for r in await Rotation.filter(finished_at=None)}
    folder = keyring.path.parent if keyring.path is not None else None
    async with maintenance_lock(folder, "rotation", wait=wait, on_wait=on_wait) as held:
        keyring = current(keyring)
        if held.waited_for is not None:
            finished = await Rotation.exclude(finished_at=None).order_by("-id").first()
            pending = await Rotation.filter(finished_at=None).exists()
            if (
                finished is not None
                and not pending
                and (finished.id > newest or finished.id in running)
            ):
                report = RotationReport(finished.target_key_id)
                report.already = await DataKey.filter(master_key_id=finished.target_key_id).count()
                return MasterRotation(report, waited_for=held.waited_for, done_meanwhile=True), (
                    keyring
                )
        result, keyring = await _rotate(keyring, settings, audit, progress)
        result.waited_for = held.waited_for
        return result, keyring


async def _rotate(
    keyring: Keyring, settings: VaultSettings, audit: Audit | None, progress: Progress | None
) -> tuple[MasterRotation, Keyring]:
    keyring, generated = await _choose_target(keyring)
    vault = Vault(keyring, settings, audit=audit)
    report = await rewrap_data_keys(vault, progress)
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


async def rewrap_data_keys(vault: Vault, progress: Progress | None = None) -> RotationReport:
    """Re-wrap every data key under the primary master key, one committed row at a time.

    Secrets are not touched (they stay sealed by their data keys); an interrupted run leaves
    some rows under the old key and some under the new one, both configured, and re-running
    finishes the job.
    """
    target = vault.keyring.primary
    report = RotationReport(target.key_id)
    rotation = await Rotation.filter(finished_at=None, target_key_id=target.key_id).first()
    report.resumed = rotation is not None
    todo = await (
        DataKey.exclude(master_key_id=target.key_id).order_by("id").values_list("id", flat=True)
    )
    report.already = await DataKey.filter(master_key_id=target.key_id).count()
    if rotation is None:
        rotation = await Rotation.create(target_key_id=target.key_id, total=len(todo))
    else:
        rotation.total = rotation.done + len(todo)
        await rotation.save(update_fields=["total"])
    for n, key_row_id in enumerate(todo, start=1):
        async with in_transaction() as conn:
            row = await DataKey.filter(id=key_row_id).using_db(conn).select_for_update().first()
            if row is None or row.master_key_id == target.key_id:
                continue
            try:
                plain_key = vault._unwrap(row)
            except (SecretUnreadable, MasterKeyMissing) as exc:
                report.failures.append((row.owner, row.version, str(exc)))
                continue
            key_id, wrapped = vault._wrap(row.owner, row.version, plain_key)
            await (
                DataKey.filter(id=row.id, master_key_id=row.master_key_id)
                .using_db(conn)
                .update(master_key_id=key_id, wrapped=wrapped, rewrapped_at=datetime.now(UTC))
            )
            await Rotation.filter(id=rotation.id).using_db(conn).update(done=rotation.done + n)
        report.rewrapped += 1
        if progress is not None:
            progress(n, len(todo))
    if report.ok:
        await Rotation.filter(id=rotation.id).update(finished_at=datetime.now(UTC))
        await Rotation.filter(finished_at=None).update(finished_at=datetime.now(UTC))
    vault._record(
        "cli",
        "vault.rotate-master",
        target.key_id,
        "ok" if report.ok else "partial",
        rewrapped=report.rewrapped,
        failed=len(report.failures),
    )
    return report
