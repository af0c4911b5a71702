"""``quartermaster audit``: read the audit trail from a terminal (who did what, when, to what).

Chat shows a request's history to those who may see it (``history REQ-n``); the command line is
for admins of the server and shows every record, filtered by time, actor, request and kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError

DEFAULT_SINCE = "7 days"


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("audit", help="read the audit trail (who did what, when)")
    p.add_argument(
        "--since",
        default=DEFAULT_SINCE,
        help="how far back: a period (7d, '24 hours', '2 weeks') or a date (2026-12-01); "
        f"default {DEFAULT_SINCE}",
    )
    p.add_argument("--user", help="only this actor: platform:id, or a bare id on any platform")
    p.add_argument("--request", metavar="REQ-N", help="only records about this request")
    p.add_argument("--kind", help="only this kind, e.g. request.approve; 'vault.*' for a family")
    p.add_argument("--limit", type=int, default=1000, help="at most this many (newest kept)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=lambda args: asyncio.run(_audit(load_settings(), args)))


def since_of(text: str, now: datetime) -> datetime:
    """The start of the window: an ISO date, or a period back from ``now``."""
    try:
        day = datetime.fromisoformat(text.strip())
    except ValueError:
        from bot.workflow.stats import parse_period

        try:
            return now - parse_period(text, now)
        except ValueError:
            raise ConfigError(
                f"--since: {text!r} is neither a period (7d, '24 hours') nor a date (2026-12-01)"
            ) from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


async def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from bot.storage.models import AuditEvent

    if args.limit < 1:
        raise ConfigError("--limit: must be at least 1")
    since = since_of(args.since, datetime.now(UTC))
    await open_database(settings.database.resolved_url())
    try:
        qs = AuditEvent.filter(at__gte=since)
        if args.user:
            user = args.user
            qs = qs.filter(actor=user) if ":" in user else qs.filter(actor__endswith=f":{user}")
        if args.request:
            from nlu.normalise import parse_request_id

            ref = parse_request_id(args.request)
            if ref is None:
                raise ConfigError(f"--request: {args.request!r} is not a request id (REQ-12)")
            qs = qs.filter(target=ref)
        if args.kind:
            kind = args.kind
            qs = (
                qs.filter(kind__startswith=kind[:-1])
                if kind.endswith("*")
                else qs.filter(kind=kind)
            )
        rows = list(reversed(await qs.order_by("-id").limit(args.limit)))
    finally:
        await close_database()
    for row in rows:
        print(_json(row) if args.json else _line(row))
    if not rows and not args.json:
        print(f"No audit records since {since:%Y-%m-%d %H:%M} UTC match.", file=sys.stderr)
    return 0


def _record(row: Any) -> dict[str, Any]:
    return {
        "at": row.at.astimezone(UTC).isoformat(timespec="seconds"),
        "actor": row.actor,
        "kind": row.kind,
        "target": row.target,
        "outcome": row.outcome,
        "detail": row.detail,
    }


def _json(row: Any) -> str:
    return json.dumps(_record(row), ensure_ascii=False, sort_keys=True)


def _line(row: Any) -> str:
    detail = " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in row.detail.items())
    when = row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return f"{when}  {row.actor}  {row.kind}  {row.target or '-'}  {row.outcome}  {detail}".rstrip()
