"""``quartermaster users show|set-email``: people's records from the server, for admins."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError, UserError


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("users", help="show people's records, set their e-mail address")
    sub = p.add_subparsers(dest="users_command", metavar="ACTION")
    sub.required = True
    show = sub.add_parser("show", help="what the bot knows about one person")
    show.add_argument("user", help="platform:id (a bare name means shell:NAME)")
    show.set_defaults(func=lambda args: asyncio.run(_show(load_settings(), args)))
    mail = sub.add_parser("set-email", help="set the address notices go to")
    mail.add_argument("user", help="platform:id (a bare name means shell:NAME)")
    mail.add_argument("email", help="the address, or '' to go back to the platform's")
    mail.set_defaults(func=lambda args: asyncio.run(_set_email(load_settings(), args)))


def _key(user: str) -> tuple[str, str]:
    platform, sep, platform_id = user.partition(":")
    return (platform, platform_id) if sep else ("shell", user)


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    from bot.storage.db import close_database, open_database
    from bot.storage.models import User

    platform, platform_id = _key(args.user)
    await open_database(settings.database.resolved_url())
    try:
        user = await User.get_or_none(platform=platform, platform_id=platform_id)
    finally:
        await close_database()
    if user is None:
        raise ConfigError(f"{platform}:{platform_id}: nobody by that id has talked to the bot")
    print(f"{user.key}  name={user.name!r}  email={user.email or '-'}  person={user.person or '-'}")
    return 0


async def _set_email(settings: Settings, args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from tortoise.transactions import in_transaction

    from bot.emails import normalise_email
    from bot.storage.db import close_database, open_database
    from bot.storage.models import AuditEvent, User

    platform, platform_id = _key(args.user)
    try:
        address = normalise_email(args.email) if args.email.strip() else None
    except UserError as exc:
        raise ConfigError(str(exc)) from None
    await open_database(settings.database.resolved_url())
    try:
        async with in_transaction():  # the change and its audit record together
            user, _ = await User.get_or_create(
                platform=platform, platform_id=platform_id, defaults={"name": platform_id}
            )
            user.email = address
            await user.save(update_fields=["email"])
            await AuditEvent.create(
                at=datetime.now(UTC),
                actor="cli",
                kind="user.email",
                target=user.key,
                detail={"set": address is not None},
            )
    finally:
        await close_database()
    print(f"{user.key}: e-mail {address or 'cleared (the platform profile is used)'}")
    return 0
