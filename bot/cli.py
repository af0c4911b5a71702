"""The ``quartermaster`` command: run the bot, chat from a script, check config, manage roles.

Every failure the user can fix ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.errors import QuartermasterError

EXIT_USAGE = 2


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _fail(message: str, code: int = 1) -> int:
    for line in message.splitlines():
        print(f"quartermaster: error: {line}", file=sys.stderr)
    return code


def _run_async(coro: Coroutine[Any, Any, int]) -> int:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        return 130


# -- run / chat ----------------------------------------------------------------------------------
async def _serve(settings: Settings) -> int:
    from bot import heap
    from bot.app import Application
    from bot.logs import setup_logging
    from bot.paths import data_dir

    shell = settings.adapters.shell.enabled
    interactive = shell and sys.stdin.isatty()
    setup_logging(
        settings.logging.level,
        settings.logging.file or (data_dir() / "quartermaster.log" if shell else None),
    )
    async with Application(settings) as app:
        heap.settle()  # start-up's objects out of the collector's way (bot/heap.py)
        adapter = app.adapters.get("shell")
        if adapter is not None:
            from bot.adapters.shell import ShellAdapter

            assert isinstance(adapter, ShellAdapter)
            if interactive:
                await adapter.run_interactive()
                return 0
            return await adapter.run_script(sys.stdin)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(
            f"quartermaster: running with {', '.join(app.adapters) or 'no adapters'}; "
            "Ctrl-C stops.",
            file=sys.stderr,
        )
        await stop.wait()
    return 0


async def _chat(settings: Settings, script: str) -> int:
    from bot.adapters.shell import ShellAdapter
    from bot.app import Application
    from bot.logs import setup_logging
    from bot.paths import data_dir

    setup_logging(settings.logging.level, settings.logging.file or data_dir() / "quartermaster.log")
    if script == "-":
        lines: list[str] = sys.stdin.read().splitlines()
    else:
        try:
            lines = Path(script).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            return _fail(f"cannot read transcript {script}: {exc.strerror}", EXIT_USAGE)
    async with Application(settings, adapters=[ShellAdapter]) as app:
        adapter = app.adapters["shell"]
        assert isinstance(adapter, ShellAdapter)
        return await adapter.run_script(lines)


def cmd_run(args: argparse.Namespace) -> int:
    return _run_async(_serve(_settings(args)))


def cmd_chat(args: argparse.Namespace) -> int:
    settings = _settings(args)
    settings.adapters.shell.admin = not args.no_admin
    return _run_async(_chat(settings, args.script))


# -- config / db ---------------------------------------------------------------------------------
def cmd_config_check(args: argparse.Namespace) -> int:
    from bot.adapters import enabled_names, validate_adapters
    from bot.logs import redact_url

    settings = _settings(args)
    validate_adapters(settings)  # each enabled platform checks its own keys
    enabled = enabled_names(settings)

    print(f"{settings.source}: OK")
    print(f"  adapters: {', '.join(enabled) or 'none'}")
    print(f"  database: {redact_url(settings.database.resolved_url())}")
    print(f"  redis:    {redact_url(settings.redis.url) if settings.redis.url else 'off'}")
    print(f"  nlu:      {settings.nlu.get('backend', 'embedded')}")
    print(f"  skills:   {', '.join(settings.skills.packages)}")
    return 0


async def _migrate(settings: Settings) -> int:
    from bot.logs import redact_url
    from bot.storage.db import close_database, open_database

    await open_database(settings.database.resolved_url())
    await close_database()
    print(f"database {redact_url(settings.database.resolved_url())} is up to date")
    return 0


def cmd_db_migrate(args: argparse.Namespace) -> int:
    return _run_async(_migrate(_settings(args)))


# -- roles ---------------------------------------------------------------------------------------
async def _roles(settings: Settings, action: str, user: str | None, role: str | None) -> int:
    from bot.roles import RoleService, normalise_subject
    from bot.storage.db import close_database, open_database

    await open_database(settings.database.resolved_url())
    try:
        roles = RoleService(settings.roles)
        await roles.load()
        if action == "list":
            listing = roles.listing()
            if user:
                subject = normalise_subject(user)
                listing = {subject: sorted(roles.roles_of(subject))}
            for subject, held in listing.items():
                print(f"{subject}\t{', '.join(held)}")
            if not listing:
                print(f"(no grants; everyone has the {roles.default} role)")
            return 0
        assert user is not None and role is not None
        subject = normalise_subject(user)
        if action == "grant":
            created = await roles.grant(subject, role, by="cli", source="cli")
            print(f"{subject}: {'granted' if created else 'already has'} {role}")
        else:
            removed = await roles.revoke(subject, role)
            print(f"{subject}: {'revoked' if removed else 'did not have'} {role}")
        return 0
    finally:
        await close_database()


def cmd_roles(args: argparse.Namespace) -> int:
    if args.action in {"grant", "revoke"} and not (args.user and args.role):
        return _fail(f"usage: quartermaster roles {args.action} USER ROLE", EXIT_USAGE)
    return _run_async(_roles(_settings(args), args.action, args.user, args.role))


# -- parser --------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="quartermaster", description="ChatOps assistant for research-computing helpdesks."
    )
    parser.add_argument(
        "--config",
        "-c",
        metavar="FILE",
        help="configuration file (default: $QUARTERMASTER_CONFIG or config/quartermaster.yml)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="start the bot (the shell chat unless configured otherwise)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("chat", help="run a chat transcript through the shell adapter")
    p.add_argument(
        "--script",
        "-s",
        required=True,
        metavar="FILE",
        help="transcript file, or - for stdin (syntax: docs/shell.md)",
    )
    p.add_argument(
        "--no-admin", action="store_true", help="do not grant the local user the admin role"
    )
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("config", help="configuration tools")
    csub = p.add_subparsers(dest="config_command", metavar="ACTION")
    csub.required = True
    csub.add_parser("check", help="validate the configuration").set_defaults(func=cmd_config_check)

    p = sub.add_parser("db", help="database tools")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dsub.required = True
    dsub.add_parser("migrate", help="apply pending migrations").set_defaults(func=cmd_db_migrate)

    p = sub.add_parser("roles", help="grant, revoke and list roles")
    p.add_argument("action", choices=["grant", "revoke", "list"])
    p.add_argument("user", nargs="?", help="platform:id (a bare name means shell:NAME)")
    p.add_argument("role", nargs="?")
    p.set_defaults(func=cmd_roles)

    for register in _extensions():
        register(sub, lambda: load_settings(_CONFIG_PATH))
    _config_after_any_command(parser)
    return parser


def _config_after_any_command(parser: argparse.ArgumentParser) -> None:
    """``--config`` is accepted after every (sub)command too (``quartermaster run --config F``),
    including those plug-ins add; given there, it wins over one given before the command."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for sub in action.choices.values():
            if not any("--config" in a.option_strings for a in sub._actions):
                sub.add_argument(
                    "--config",
                    "-c",
                    metavar="FILE",
                    default=argparse.SUPPRESS,
                    help="configuration file (as before the command)",
                )
            _config_after_any_command(sub)


Register = Callable[[Any, Callable[[], Settings]], None]


def _extensions() -> list[Register]:
    """Subcommands contributed by installed packages (entry-point group ``quartermaster.cli``,
    each a ``register(subparsers, load_settings)``), in name order. One that fails to import is
    named in one line on stderr; every other command keeps working."""
    from bot.plugins import CLI, PluginError, declared

    found: list[Register] = []
    for name, plugin in sorted(declared(CLI).items()):
        try:
            found.append(plugin.load())
        except PluginError as exc:
            print(
                f"quartermaster: warning: {str(exc).splitlines()[0]}; the {name!r} commands "
                "are unavailable",
                file=sys.stderr,
            )
    return found


_CONFIG_PATH: str | None = None


def register_nlu(sub: Any, load: Callable[[], Settings]) -> None:
    """``quartermaster nlu …``: the NLU's own commands, with the bot's settings and paths."""
    from bot.paths import nlu_paths
    from nlu import NLUSettings
    from nlu import cli as nlu_cli

    def nlu_settings() -> NLUSettings:
        return NLUSettings.from_mapping(load().nlu).located(**nlu_paths())

    p = sub.add_parser("nlu", help="train, evaluate and try the language model")
    nlu_cli.add_subcommands(p, nlu_settings)


def main(argv: list[str] | None = None) -> int:
    global _CONFIG_PATH
    parser = build_parser()
    args = parser.parse_args(argv)
    _CONFIG_PATH = args.config
    try:
        code = int(args.func(args) or 0)
    except QuartermasterError as exc:
        code = _fail(str(exc), EXIT_USAGE if exc.__class__.__name__ == "ConfigError" else 1)
    except ValueError as exc:  # settings of sub-packages (e.g. nlu.backend) name the key
        code = _fail(str(exc), EXIT_USAGE)
    except BrokenPipeError:  # `quartermaster … | head`: the reader left; nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code) if argv is None else None
    return code


if __name__ == "__main__":
    main()
