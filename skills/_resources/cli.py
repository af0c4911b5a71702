"""``quartermaster resources list|show|extend|release``: VMs from the server, for operators.

``list`` and ``show`` only read the database; ``extend`` and ``release`` act at the provider
with the owner's credential, in a headless bot (``bot.observers_cli.headless_app``) so the vault
and the providers are the running bot's. Every change is audited as ``cli:<user>``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError, UserError


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("resources", help="list, show, extend and release VMs")
    sub = p.add_subparsers(dest="resources_command", metavar="ACTION")
    sub.required = True
    ls = sub.add_parser("list", help="VMs that exist (or may): everyone's, or one owner's")
    ls.add_argument("--user", help="only this owner (platform:id; a bare name means shell:NAME)")
    ls.add_argument("--all", action="store_true", help="also released, gone and failed ones")
    ls.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    ls.set_defaults(func=lambda args: _sync(_list, load_settings(), args))
    show = sub.add_parser("show", help="one VM in full")
    show.add_argument("name", help="e.g. vm-3")
    show.set_defaults(func=lambda args: _sync(_show, load_settings(), args))
    ext = sub.add_parser("extend", help="keep a VM longer (no approval: you are the operator)")
    ext.add_argument("name", help="e.g. vm-3")
    ext.add_argument("duration", help='e.g. "2 weeks", 10d, P14D')
    ext.set_defaults(func=lambda args: _sync(_extend, load_settings(), args))
    rel = sub.add_parser("release", help="delete a VM at its provider and mark it released")
    rel.add_argument("name", help="e.g. vm-3")
    rel.set_defaults(func=lambda args: _sync(_release, load_settings(), args))


def _sync(
    func: Callable[[Settings, argparse.Namespace], Any], settings: Settings, args: Any
) -> int:
    try:
        return int(asyncio.run(func(settings, args)))
    except UserError as exc:  # "no VM vm-9", a provider refusing: said, not a traceback
        raise ConfigError(str(exc)) from None


def _owner(user: str) -> str:
    return user if ":" in user else f"shell:{user}"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def _record(vm: Any) -> dict[str, Any]:
    return {
        "name": vm.name,
        "owner": vm.owner,
        "provider": vm.provider,
        "external_id": vm.external_id,
        "state": vm.state,
        "spec": vm.spec,
        "addresses": list(vm.addresses),
        "created": vm.created.isoformat() if vm.created else None,
        "expires_at": vm.expires_at.isoformat() if vm.expires_at else None,
        "request": vm.request,
    }


async def _with_db(settings: Settings, func: Callable[[], Any]) -> Any:
    from bot.storage.db import close_database, open_database

    await open_database(settings.database.resolved_url())
    try:
        return await func()
    finally:
        await close_database()


async def _list(settings: Settings, args: argparse.Namespace) -> int:
    from skills._resources import store

    owner = _owner(args.user) if args.user else None
    vms = await _with_db(settings, lambda: store.listing(owner, live_only=not args.all))
    if args.json:
        print(json.dumps([_record(v) for v in vms], indent=2))
        return 0
    if not vms:
        print("(no VMs)")
        return 0
    print("NAME\tOWNER\tPROVIDER\tSTATE\tADDRESSES\tEXPIRES\tSPEC")
    for v in vms:
        expires = f"{v.expires_at:%Y-%m-%d %H:%M}" if v.expires_at else "-"
        print(
            f"{v.name}\t{v.owner}\t{v.provider}\t{v.state}\t{','.join(v.addresses) or '-'}\t"
            f"{expires}\t{v.describe()}"
        )
    return 0


async def _find(name: str) -> Any:
    from skills._resources import store

    number = store.parse_name(name)
    vm = await store.get(number) if number is not None else None
    if vm is None:
        raise UserError(f"{name[:20]}: no such VM (see `quartermaster resources list`)")
    return vm


async def _show(settings: Settings, args: argparse.Namespace) -> int:
    vm = await _with_db(settings, lambda: _find(args.name))
    for key, value in _record(vm).items():
        print(f"{key}: {value if value not in (None, [], {}) else '-'}")
    return 0


async def _act(settings: Settings, name: str, act: Callable[[Any, Any, Any], Any]) -> Any:
    from bot.observers import DRY_RUN
    from bot.observers_cli import headless_app
    from skills._resources.registry import ProviderRegistry
    from skills._resources.settings import vm_settings

    # this short-lived process reaches nobody in chat: its observers (the reconcile at start)
    # only rehearse, so nothing is recorded as told that nobody was told
    token = DRY_RUN.set(True)
    try:
        async with headless_app(settings) as app:
            vm = await _find(name)
            providers = ProviderRegistry.build(app, vm_settings(settings).providers)
            try:
                return await act(app, providers, vm)
            finally:
                await providers.close()
    finally:
        DRY_RUN.reset(token)


async def _extend(settings: Settings, args: argparse.Namespace) -> int:
    from nlu.normalise import parse_duration
    from skills._resources import provision
    from skills._resources.draft import days_of

    days = days_of(parse_duration(args.duration))
    if days is None:
        raise ConfigError(f"{args.duration[:40]!r}: not a duration (e.g. '2 weeks', 10d, P14D)")

    async def act(app: Any, providers: Any, vm: Any) -> Any:
        if not vm.live:
            raise UserError(f"{vm.name} is {vm.state}; there is nothing to extend")
        now = app.clock.now()
        until = max(vm.expires_at or now, now) + timedelta(days=days)
        return await provision.extend(app, providers, vm, until, actor=_actor())

    vm = await _act(settings, args.name, act)
    print(f"{vm.name} now runs until {vm.expires_at:%Y-%m-%d %H:%M} UTC")
    return 0


async def _release(settings: Settings, args: argparse.Namespace) -> int:
    from skills._resources import provision

    async def act(app: Any, providers: Any, vm: Any) -> Any:
        if not vm.live or vm.state == "creating":
            raise UserError(f"{vm.name} is {vm.state}; nothing to release now")
        # the owner's DM is sent by the running bot (this process has no chat platform)
        tell = f"An operator deleted your VM {vm.name}."
        return await provision.delete(app, providers, vm, actor=_actor(), tell_owner=tell)

    vm = await _act(settings, args.name, act)
    print(f"{vm.name} deleted and marked {vm.state}")
    return 0
