"""``quartermaster requests list|export``: the request records from a terminal, for reports."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("requests", help="list and export helpdesk requests")
    sub = p.add_subparsers(dest="requests_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="list requests (newest first)")
    ls.add_argument("--type", help="only this request type")
    ls.add_argument("--state", help="only this state")
    ls.add_argument("--open", action="store_true", help="only requests not yet closed")
    ls.set_defaults(func=lambda args: _run(load_settings(), _list, args))

    ex = sub.add_parser("export", help="export requests (one row per request)")
    ex.add_argument("--csv", action="store_true", required=True, help="CSV format")
    ex.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    ex.add_argument("--type", help="only this request type")
    ex.add_argument("--state", help="only this state")
    ex.add_argument("--include-deleted", action="store_true")
    ex.set_defaults(func=lambda args: _run(load_settings(), _export, args))


def _run(settings: Settings, func: Callable[..., Any], args: argparse.Namespace) -> int:
    return int(asyncio.run(_with_db(settings, func, args)))


async def _with_db(settings: Settings, func: Callable[..., Any], args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from bot.workflow.engine import workflows_dir
    from bot.workflow.loader import load_types

    types = load_types(workflows_dir(settings.workflows), settings.roles.known)
    if getattr(args, "type", None) and args.type not in types:
        raise ConfigError(
            f"--type: no request type {args.type!r} (types: {', '.join(sorted(types))})"
        )
    await open_database(settings.database.resolved_url())
    try:
        result: int = await func(types, args)
        return result
    finally:
        await close_database()


async def _list(types: dict[str, Any], args: argparse.Namespace) -> int:
    from bot.storage.models import Request

    qs = Request.filter(deleted=False)
    if args.type:
        qs = qs.filter(type=args.type)
    if args.state:
        qs = qs.filter(state=args.state)
    if args.open:
        qs = qs.filter(closed_at=None)
    rows = await qs.order_by("-id").prefetch_related("requester")
    for req in rows:
        created = req.created_at.strftime("%Y-%m-%d %H:%M") if req.created_at else ""
        print(f"{req.ref}\t{req.type}\t{req.state}\t{req.requester.key}\t{created}")
    if not rows:
        print("(no requests)", file=sys.stderr)
    return 0


async def _export(types: dict[str, Any], args: argparse.Namespace) -> int:
    from bot.workflow.export import fetch, write_csv

    requests = await fetch(args.type, args.state, args.include_deleted)
    if args.output:
        path = Path(args.output)
        try:
            with path.open("w", newline="", encoding="utf-8") as out:
                count = write_csv(out, requests, types)
        except OSError as exc:
            raise ConfigError(f"--output: cannot write {path}: {exc.strerror}") from None
        print(f"exported {count} requests to {path}", file=sys.stderr)
    else:
        write_csv(sys.stdout, requests, types)
    return 0
