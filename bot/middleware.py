"""Inbound middleware around every handler: errors, rate limits, authorisation, audit.

Each middleware is ``async def mw(ctx, call_next)``; the chain is composed once at start, so a
message pays for a handful of awaits and nothing else.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol

from bot.checks import first_failing
from bot.errors import DatabaseNotAnswering, PermissionDenied, UserError

if TYPE_CHECKING:
    from bot.context import Context

log = logging.getLogger(__name__)

Next = Callable[["Context"], Awaitable[None]]


class Middleware(Protocol):
    """``async def mw(ctx, call_next)``: do something, then (usually) ``await call_next(ctx)``."""

    def __call__(self, ctx: Context, call_next: Next) -> Awaitable[None]: ...


def compose(middlewares: Sequence[Middleware], endpoint: Next) -> Next:
    """Bind each middleware to the next with ``partial``: no extra coroutine frame per layer."""
    handler = endpoint
    for mw in reversed(middlewares):
        handler = partial(mw, call_next=handler)
    return handler


async def guard_errors(ctx: Context, call_next: Next) -> None:
    """A ``UserError`` is shown as is (a ``PermissionDenied`` only to the user); a database
    that stalls or refuses is said in one sentence (nothing was lost, try again); anything else
    is an apology with a reference id."""
    from bot.storage.db import is_outage

    try:
        await call_next(ctx)
    except PermissionDenied as exc:
        await ctx.reply_private(str(exc))
    except UserError as exc:
        await ctx.reply(str(exc))
    except Exception as exc:
        if not is_outage(exc):
            await _apologise(ctx, exc)
            return
        ctx.app.stats.errors += 1
        log.warning("the database is not answering (%s) for %s", _describe(exc), ctx.user_key)
        try:
            await ctx.reply(DatabaseNotAnswering.USER_MESSAGE)
        except Exception:
            log.exception("could not tell %s that the database is away", ctx.user_key)


def _describe(exc: BaseException) -> str:
    """The error's type and first line: driver messages name hosts, never credentials."""
    from bot.logs import redact_url

    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {redact_url(first)}" if first else type(exc).__name__


async def _apologise(ctx: Context, exc: BaseException) -> None:
    """An unexpected error: a reference the user can quote, the traceback in the log."""
    ref = secrets.token_hex(3)
    ctx.app.stats.errors += 1
    handler = ctx.spec.qualname if ctx.spec else "routing"
    log.error("handler %s failed for %s (ref %s)", handler, ctx.user_key, ref, exc_info=exc)
    ctx.app.audit.record(ctx.user_key, "error", handler, "error", ref=ref)
    try:
        await ctx.reply(
            f"Sorry, something went wrong on my side (ref `{ref}`). "
            "An admin can find the details in my log under that reference."
        )
    except Exception:
        log.exception("could not tell %s about error %s", ctx.user_key, ref)


class RateLimiter:
    """A token bucket per user: ``messages`` per ``per_seconds``, with one polite warning."""

    def __init__(self, messages: int, per_seconds: float) -> None:
        self.capacity = float(messages)
        self.rate = messages / per_seconds
        self._buckets: dict[str, list[float]] = {}  # user -> [tokens, last, warned]

    def allow(self, user_key: str, now: float | None = None) -> tuple[bool, bool]:
        """(allowed, should_warn)."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(user_key)
        if bucket is None:
            self._buckets[user_key] = [self.capacity - 1.0, now, 0.0]
            return True, False
        tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            bucket[2] = 0.0
            return True, False
        bucket[0] = tokens
        warn = bucket[2] == 0.0
        bucket[2] = 1.0
        return False, warn

    async def __call__(self, ctx: Context, call_next: Next) -> None:
        allowed, warn = self.allow(ctx.user_key)
        if allowed:
            await call_next(ctx)
            return
        ctx.app.stats.rate_limited += 1
        if warn:
            await ctx.reply_private(
                "You're sending messages faster than I can take them; "
                "I'll skip a few. Give me a few seconds and try again."
            )


async def authorize(ctx: Context, call_next: Next) -> None:
    """Authorisation before dispatch: every check the handler declares (``bot.checks``) must
    pass; ``help`` evaluates the same checks in dry-run to decide what to show."""
    spec = ctx.spec
    failed = first_failing(spec.checks, ctx) if spec is not None else None
    if spec is not None and failed is not None:
        ctx.app.stats.denied += 1
        needs = failed.describe(ctx)
        ctx.app.audit.record(ctx.user_key, "denied", spec.qualname, "denied", needs=needs)
        have = ", ".join(sorted(ctx.roles))
        usage = (spec.help or "").partition(" — ")[0]
        what = f"`{usage}`" if usage else "that"
        await ctx.reply_private(
            f"Sorry, {what} {needs}, and you have: {have}. "
            "Ask an admin if you think you should have it."
        )
        return
    await call_next(ctx)


async def audit(ctx: Context, call_next: Next) -> None:
    outcome = "error"
    try:
        await call_next(ctx)
        outcome = "ok"
    finally:
        spec = ctx.spec
        if spec is not None and spec.audit and spec.skill != "builtin":
            ctx.app.audit.record(
                ctx.user_key, spec.kind, spec.qualname, outcome, channel=ctx.channel
            )
