"""``quartermaster observers run [--at ISO-TIME] [--only NAME] [--dry-run]``: every observer
once, as if at that time, one line per alert or action — for operators checking a
configuration and for tests from the outside.

The run happens in a headless bot (the configured database, Redis and skills; no chat platform,
no HTTP server). Without ``--dry-run`` it is a real run: state is recorded (so the running bot
will not repeat what was found), observers act (a configured cleanup deletes), and the messages
go into the outbox, where the running bot picks them up and sends them (this process has no
platform to send them itself). ``--dry-run`` looks without recording, acting or telling."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError


class FixedClock:
    """The time given on the command line, for the whole run."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


def register(subparsers: Any, load_settings: Callable[[], Settings]) -> None:
    p = subparsers.add_parser("observers", help="run the observers once (check a configuration)")
    sub = p.add_subparsers(dest="observers_command", metavar="ACTION")
    sub.required = True
    run = sub.add_parser("run", help="run every observer once and print what it found")
    run.add_argument("--at", help="as if at this time (ISO 8601, e.g. 2027-03-16T09:00Z)")
    run.add_argument("--only", metavar="NAME", help="run only this observer")
    run.add_argument(
        "--dry-run", action="store_true", help="report only: record nothing, act on nothing"
    )
    run.set_defaults(func=lambda args: asyncio.run(_run(load_settings(), args)))


def parse_at(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"--at: {text[:40]!r} is not an ISO time like 2027-03-16T09:00Z"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


@contextlib.asynccontextmanager
async def headless_app(settings: Settings, at: datetime | None = None) -> AsyncIterator[Any]:
    """The bot without chat platforms or HTTP server: its database, Redis, skills and
    services, for commands that need what the skills provide (observers, providers). It sends
    nothing: the messages its changes record wait in the outbox for the running bot."""
    from bot.app import Application

    quiet = settings.model_copy(
        update={"http": settings.http.model_copy(update={"enabled": False})}
    )
    app = Application(
        quiet,
        adapters=[],
        load_nlu=False,
        clock=FixedClock(at) if at is not None else None,
        deliver=False,
    )
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


def _line(name: str, kind: str, subject: str, notify: tuple[str, ...]) -> str:
    return f"{name}\t{kind}\t{subject}\t{','.join(notify) or '-'}"


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    from bot.observers import DRY_RUN

    at = parse_at(args.at)
    token = DRY_RUN.set(bool(args.dry_run))
    try:
        async with headless_app(settings, at) as app:
            names = app.observers.names
            if args.only is not None:
                if args.only not in names:
                    known = ", ".join(names) or "none"
                    raise ConfigError(f"--only: no observer {args.only!r} (there are: {known})")
                names = [args.only]
            now = app.clock.now()
            print("OBSERVER\tKIND\tSUBJECT\tOWNER")
            failed = 0
            for name in names:
                if args.dry_run:
                    try:
                        findings = await app.observers.observer(name).check(app, now)
                    except Exception as exc:
                        print(_line(name, "error", type(exc).__name__, ()))
                        failed += 1
                        continue
                else:
                    report = await app.observers.run(name, now)
                    if report.error is not None:
                        print(_line(name, "error", report.error, ()))
                        failed += 1
                        continue
                    findings = report.told
                for f in findings:
                    print(_line(name, f.kind, f.subject, f.notify))
    finally:
        DRY_RUN.reset(token)
    return 1 if failed else 0
