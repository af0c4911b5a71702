"""``quartermaster vault ...``: list, verify and rotate, for operators at a terminal.

Nothing here prints a secret value or key material (except ``new-key``, whose whole point is to
print a fresh key for ``QUARTERMASTER_MASTER_KEY``). Problems end as one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.exceptions import BaseORMException

from bot.config import Settings
from bot.errors import ConfigError, QuartermasterError, StorageUnavailable

EXIT_FAILED, EXIT_USAGE = 1, 2


def _fail(message: str, code: int) -> int:
    for line in message.splitlines():
        print(f"quartermaster: error: {line}", file=sys.stderr)
    return code


def _subject(user: str) -> str:
    """``platform:id``; a bare name means the shell user of that name (like ``roles``)."""
    user = user.strip()
    if not user or any(c.isspace() for c in user):
        raise ValueError(f"{user!r} is not a user: give platform:id, e.g. slack:U123ABC")
    return user if ":" in user else f"shell:{user}"


async def _with_db(settings: Settings, body: Callable[[], Awaitable[int]]) -> int:
    from bot.storage.db import close_database, open_database

    await open_database(settings.database.resolved_url())
    try:
        return await body()
    finally:
        await close_database()


def _run(
    load_settings: Callable[[], Settings],
    work: Callable[[Settings, Any], Awaitable[int]],
    args: argparse.Namespace,
) -> int:
    try:
        settings = load_settings()
        return asyncio.run(_with_db(settings, lambda: work(settings, args)))
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc), EXIT_USAGE)
    except (StorageUnavailable, QuartermasterError) as exc:
        return _fail(str(exc), EXIT_FAILED)
    except BaseORMException as exc:  # e.g. a locked or vanished table: one line, no traceback
        return _fail(f"database error: {type(exc).__name__}: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        return 130


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    from credentials.models import SealedSecret
    from credentials.vault import SecretInfo

    query = SealedSecret.all() if not args.user else SealedSecret.filter(owner=_subject(args.user))
    rows = [SecretInfo.of(r) for r in await query.order_by("owner", "name")]
    if not rows:
        print("(no secrets)" if not args.user else f"(no secrets for {_subject(args.user)})")
        return 0
    print("OWNER\tNAME\tPROVIDER\tVERSION\tSTORED\tUPDATED\tLAST USED")
    for r in rows:
        print(
            f"{r.owner}\t{r.name}\t{r.provider}\t{r.version}\t{_when(r.created_at)}\t"
            f"{_when(r.updated_at)}\t{_when(r.last_used_at)}"
        )
    return 0


def _keyring(settings: Settings, *, create: bool) -> Any:
    from credentials.keys import load_keyring
    from credentials.settings import vault_settings

    vs = vault_settings(settings.vault, settings.source)
    return vs, load_keyring(vs, create=create)


async def _verify(settings: Settings, args: argparse.Namespace) -> int:
    from credentials.vault import Vault

    vs, keyring = _keyring(settings, create=False)
    report = await Vault(keyring, vs).verify()
    total = report.opened + len(report.failures)
    print(
        f"{report.opened} of {total} secrets open with {keyring.source} "
        f"(master keys in use: {_usage(report.keys_in_use, keyring.primary.key_id)})"
    )
    for owner, name, why in report.failures:
        print(f"FAILED {owner} {name}: {why}")
    return 0 if report.ok else EXIT_FAILED


def _usage(counts: dict[str, int], primary: str) -> str:
    if not counts:
        return "none yet"
    return ", ".join(
        f"{k}{' (primary)' if k == primary else ''}: {n} data key(s)"
        for k, n in sorted(counts.items())
    )


async def _rotate_master(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit import AuditLog
    from credentials.rotation import rotate_master_keys

    vs, keyring = _keyring(settings, create=False)
    audit = AuditLog()
    await audit.start()
    try:

        def progress(done: int, total: int) -> None:
            if args.progress:
                print(f"re-wrapped {done}/{total}", flush=True)

        def waiting(holder: str) -> None:
            print(f"waiting: {holder} (up to {args.wait:.0f} s)", flush=True)

        result, keyring = await rotate_master_keys(
            keyring, vs, audit=audit, progress=progress, wait=args.wait, on_wait=waiting
        )
    finally:
        await audit.stop()
    report = result.report
    if result.waited_for is not None:
        print("the other run released the lock")
    if result.done_meanwhile:
        print(
            f"the rotation that ran meanwhile finished: all {report.already} data key(s) use "
            f"master key {report.target}; nothing left to do"
        )
        return 0
    if result.generated:
        print(f"new master key {result.generated} written to {keyring.path} (back the file up now)")
    if report.resumed:
        print(f"resumed an interrupted rotation towards master key {report.target}")
    if report.rewrapped == 0 and not report.failures and not result.generated:
        print(
            f"nothing to re-wrap: all {report.already} data key(s) already use master key "
            f"{report.target}."
        )
        if keyring.path is None:
            print(
                "To rotate, put a new key first in QUARTERMASTER_MASTER_KEY (keep the old "
                "one after it until this finishes); `quartermaster vault new-key` makes one."
            )
    else:
        print(f"re-wrapped {report.rewrapped} data key(s) under master key {report.target}")
    for owner, version, why in report.failures:
        print(f"FAILED {owner} data key {version}: {why}")
    if result.retired and result.retired_file:
        print(
            f"retired master key(s) {', '.join(result.retired)} (no longer used): moved to "
            f"{result.retired_file}, needed only to restore older database backups"
        )
    if result.remove_from_env:
        print(
            f"master key(s) {', '.join(result.remove_from_env)} are no longer used: remove "
            "them from QUARTERMASTER_MASTER_KEY and restart the bot"
        )
    if report.failures:
        return _fail(
            f"{len(report.failures)} data key(s) could not be re-wrapped; the old master "
            "key stays configured. Fix or delete them and run rotate-master again.",
            EXIT_FAILED,
        )
    return 0


async def _recover(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit import AuditLog
    from credentials.keys import generate, load_keyring, write_key_file
    from credentials.lock import maintenance_lock
    from credentials.recovery import RECOVER, find_orphans, key_file_path, retire_orphans
    from credentials.settings import vault_settings

    vs = vault_settings(settings.vault, settings.source)
    path = key_file_path(vs)
    lost = path is not None and not path.exists()
    folder = path.parent if path is not None else None
    async with maintenance_lock(folder, "recovery", wait=args.wait):
        configured = set() if lost else set(load_keyring(vs, create=False).ids)
        orphans = await find_orphans(configured)
        if not orphans:
            print("every data key is wrapped by a configured master key: nothing to recover")
            return 0
        users = len(orphans.secrets)
        secrets = sum(len(v) for v in orphans.secrets.values())
        print(
            f"{orphans.data_keys} data key(s) ({secrets} secret(s) of {users} user(s)) are "
            f"wrapped by master key(s) {', '.join(orphans.key_ids)}, which are not configured"
        )
        if not args.retire_orphaned:
            print(
                "Restore the key file from its backup if you can (then nothing is lost). "
                f"Otherwise `{RECOVER}` deletes them and tells their owners."
            )
            return EXIT_FAILED
        audit = AuditLog()
        await audit.start()
        try:
            orphans = await retire_orphans(configured, audit)
        finally:
            await audit.stop()
        print(
            f"retired {orphans.data_keys} data key(s) and {secrets} secret(s); "
            f"{len(orphans.secrets)} owner(s) will be told when the bot next runs"
        )
        if lost and path is not None:
            write_key_file(path, (generate(),))
            print(f"new master key written to {path}: back this file up now")
    return 0


async def _rotate_user(settings: Settings, args: argparse.Namespace) -> int:
    from bot.audit import AuditLog
    from credentials.vault import Vault

    owner = _subject(args.user)
    vs, keyring = _keyring(settings, create=False)
    audit = AuditLog()
    await audit.start()
    try:
        count = await Vault(keyring, vs, audit=audit).rotate_user(owner)
    finally:
        await audit.stop()
    print(f"{owner}: new data key; re-sealed {count} secret(s)")
    return 0


def _new_key(args: argparse.Namespace) -> int:
    from credentials.keys import generate

    key = generate()
    print(key.encoded())
    print(
        f"# id {key.key_id}: put it in QUARTERMASTER_MASTER_KEY (first, to make it the "
        "primary) or in a key file with mode 0600",
        file=sys.stderr,
    )
    return 0


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    """Add ``quartermaster vault list|verify|rotate-master|recover|rotate-user|new-key``."""
    p = subparsers.add_parser("vault", help="the credential vault: list, verify, rotate keys")
    vsub = p.add_subparsers(dest="vault_command", metavar="ACTION")
    vsub.required = True

    def bind(work: Callable[[Settings, Any], Awaitable[int]]) -> Callable[[Any], int]:
        return lambda args: _run(load_settings, work, args)

    q = vsub.add_parser("list", help="names, providers and dates of stored secrets (no values)")
    q.add_argument("--user", metavar="USER", help="only this user (platform:id)")
    q.set_defaults(func=bind(_list))
    vsub.add_parser("verify", help="open every secret in memory and report failures").set_defaults(
        func=bind(_verify)
    )
    q = vsub.add_parser(
        "rotate-master", help="re-wrap every data key under a new master key (resumable)"
    )
    q.add_argument("--progress", action="store_true", help="print a line per re-wrapped key")
    q.add_argument(
        "--wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="how long to wait for another rotation or recovery to finish (default 120; 0: refuse)",
    )
    q.set_defaults(func=bind(_rotate_master))
    q = vsub.add_parser(
        "recover",
        help="after a lost master key: list (or retire) the secrets nobody can open",
    )
    q.add_argument(
        "--retire-orphaned",
        action="store_true",
        help="delete those data keys and secrets (audited); their owners are told at next start",
    )
    q.add_argument(
        "--wait", type=float, default=0.0, metavar="SECONDS", help="wait for a running rotation"
    )
    q.set_defaults(func=bind(_recover))
    q = vsub.add_parser("rotate-user", help="give a user a new data key and re-seal their secrets")
    q.add_argument("user", metavar="USER", help="platform:id")
    q.set_defaults(func=bind(_rotate_user))
    vsub.add_parser(
        "new-key", help="print a fresh master key (for QUARTERMASTER_MASTER_KEY)"
    ).set_defaults(func=_new_key)
