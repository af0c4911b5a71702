"""``quartermaster hiera check [PATH] [--fix]`` and ``quartermaster loans list [--json|--csv]``.

``hiera check`` needs no database and exits 1 when a file breaks the format, so it fits a
pre-commit hook or a CI job of the Puppet repository (docs/loans.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError


def register_hiera(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("hiera", help="check the per-node Hiera files of node loans")
    sub = p.add_subparsers(dest="hiera_command", metavar="ACTION")
    sub.required = True
    ck = sub.add_parser("check", help="report every violation of the strict format (exit 1)")
    ck.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories (default: loans.hiera_repo)"
    )
    ck.add_argument("--fix", action="store_true", help="rewrite what can be fixed mechanically")
    ck.add_argument("--today", metavar="YYYY-MM-DD", help="the day that decides what expired")
    ck.set_defaults(func=lambda args: _check(load_settings, args))


def _check(load_settings: Callable[[], Settings], args: argparse.Namespace) -> int:
    from skills._loans.check import check_paths
    from skills._loans.settings import loan_settings

    settings = loan_settings(load_settings().loans)
    paths = [Path(p) for p in args.paths]
    if not paths:
        if settings.hiera_repo is None:
            raise ConfigError("give a PATH, or set loans.hiera_repo in the configuration")
        paths = [settings.hiera_repo]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or directory")
    try:
        today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    except ValueError:
        raise ConfigError(f"--today: {args.today!r} is not a date (YYYY-MM-DD)") from None
    violations, fixed = check_paths(paths, today, settings.users_key, fix=args.fix)
    for file in fixed:
        print(f"fixed {file}", file=sys.stderr)
    for violation in violations:
        print(violation)
    if violations:
        print(f"{len(violations)} problem(s)", file=sys.stderr)
        return 1
    return 0


def register_loans(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("loans", help="the node loans calendar")
    sub = p.add_subparsers(dest="loans_command", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="current and coming loans (by start date)")
    fmt = ls.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array")
    fmt.add_argument("--csv", action="store_true", help="CSV, one row per loan")
    ls.add_argument("--all", action="store_true", help="ended loans too")
    ls.set_defaults(func=lambda args: asyncio.run(_list(load_settings(), args)))


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from skills._loans import views

    await open_database(settings.database.resolved_url())
    try:
        data = await views.rows(include_ended=args.all)
    finally:
        await close_database()
    if args.json:
        print(views.as_json(data))
    elif args.csv:
        sys.stdout.write(views.as_csv(data))
    else:
        for row in data:
            print(
                f"{row['request']}\t{row['start']}\t{row['end']}\t{','.join(row['nodes'])}\t"
                f"{row['requester_name'] or row['requester']}\t{row['project']}"
            )
        if not data:
            print("(no loans)", file=sys.stderr)
    return 0
