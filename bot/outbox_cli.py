"""``quartermaster outbox list|retry``: the durable outbox (bot/deliveries.py) from the server.

``list`` shows what waits to be sent (or gave up); ``retry`` puts given-up rows back, and a
running bot sends them within seconds. Message texts are not printed: only who a row is for.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError

STATES = ("pending", "failed", "done")


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("outbox", help="notifications waiting to be sent, and retrying them")
    sub = p.add_subparsers(dest="outbox_command", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("list", help="rows not sent yet (pending and failed)")
    show.add_argument("--state", choices=STATES, action="append", help="only rows in this state")
    show.add_argument("--limit", type=int, default=100, help="at most this many (newest last)")
    show.set_defaults(func=lambda args: asyncio.run(_list(load_settings(), args)))
    retry = sub.add_parser("retry", help="send failed rows again (a running bot picks them up)")
    retry.add_argument("ids", nargs="*", type=int, metavar="ID", help="row ids (from `list`)")
    retry.add_argument("--failed", action="store_true", help="every failed row")
    retry.set_defaults(func=lambda args: asyncio.run(_retry(load_settings(), args)))


def _whom(payload: dict[str, Any]) -> str:
    if "to" in payload:
        return f"to {payload['to']}"
    if "request" in payload:
        return f"request {payload['request']}"
    return ""


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from bot.storage.models import Delivery

    if args.limit < 1 or args.limit > 100_000:
        raise ConfigError("--limit: give a number from 1 to 100000")
    states = args.state or ["pending", "failed"]
    await open_database(settings.database.resolved_url())
    try:
        found = await Delivery.filter(state__in=states).order_by("-id").limit(args.limit)
    finally:
        await close_database()
    for row in reversed(found):
        when = f"next {row.next_at:%Y-%m-%d %H:%M:%S}" if row.state == "pending" else ""
        error = f"last error {row.last_error}" if row.last_error else ""
        parts = [str(row.id), row.state, row.kind, row.key or "-", _whom(row.payload)]
        parts += [f"attempts {row.attempts}", when, error]
        print("  ".join(p for p in parts if p))
    if not found:
        print(f"No {' or '.join(states)} rows in the outbox.", file=sys.stderr)
    return 0


async def _retry(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from bot.storage.models import Delivery

    if not args.ids and not args.failed:
        raise ConfigError("say which rows: outbox retry ID [ID …], or outbox retry --failed")
    await open_database(settings.database.resolved_url())
    try:
        query = Delivery.filter(state="failed")
        if args.ids:
            query = Delivery.filter(id__in=args.ids, state__in=["failed", "pending"])
        changed = await query.update(
            state="pending",
            attempts=0,
            next_at=datetime.now(UTC),
            claimed_by=None,
            claimed_until=None,
        )
    finally:
        await close_database()
    if args.ids and changed < len(set(args.ids)):
        print(
            f"{len(set(args.ids)) - changed} of the ids are not in the outbox or were sent already",
            file=sys.stderr,
        )
    print(f"{changed} row(s) will be sent again by the running bot (or at its next start).")
    return 0
