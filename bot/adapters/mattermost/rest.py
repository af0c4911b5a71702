"""REST plumbing for mattermostautodriver: base path, driver options, 429s, readable failures.

The driver builds every URL as ``scheme://host:port/api/v4/...`` and ignores ``basepath``; a
server published under a sub-path (``https://example.org/chat``) gets the prefix from an httpx
transport instead. The driver's own retries are turned off (``max_retries: 0``) so that
``bot.outbox.Outbox`` paces per channel and honours Retry-After for every call, and so that
transient failures (500/502/503/504, a refused or dropped connection) are retried here with
back-off, a bounded number of times, with one log line each.

``POST /posts`` is not idempotent by itself: it is sent with a ``pending_post_id``, which the
server remembers for 30 s and answers a repeat with the post it already made
(``App.deduplicateCreatePost``). So a post is retried only while that memory surely lasts
(``DEDUPE_WINDOW`` after the first attempt); a failure that comes later (a 504 or read timeout
after a slow server) is not retried, because the post may exist and a repeat could double it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from mattermostautodriver.exceptions import (
    InvalidMattermostError,
    MattermostError,
    TooManyRequests,
)

from bot.adapters.mattermost.config import MattermostSettings
from bot.backoff import Backoff
from bot.outbox import Outbox, RateLimited

log = logging.getLogger("bot.adapters.mattermost")
T = TypeVar("T")
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
#: seconds after a post's first attempt within which a repeat is surely de-duplicated (server: 30)
DEDUPE_WINDOW = 20.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently transient failures are retried."""

    retries: int = 3
    base: float = 0.5
    cap: float = 8.0


def transient(exc: BaseException) -> bool:
    """A failure worth another try: 5xx (not 501) or no answer at all."""
    if isinstance(exc, httpx.TransportError):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, MattermostError | InvalidMattermostError) and status in TRANSIENT_STATUS


class BasePathTransport(httpx.AsyncBaseTransport):
    """Prefixes every request path with the server's base path (``/chat/api/v4/...``)."""

    def __init__(self, base_path: str, inner: httpx.AsyncBaseTransport) -> None:
        self.prefix = base_path.rstrip("/").encode()
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(raw_path=self.prefix + request.url.raw_path)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def url_host(cfg: MattermostSettings) -> str:
    host = cfg.host
    return f"[{host}]" if ":" in host else host


def driver_options(cfg: MattermostSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "scheme": cfg.scheme,
        "url": url_host(cfg),
        "port": cfg.port,
        "verify": cfg.verify_tls,
        "token": cfg.token.get_secret_value(),
        "request_timeout": cfg.request_timeout,
        "timeout": cfg.heartbeat_seconds,
        "keepalive": False,
        "max_retries": 0,
    }
    if cfg.base_path:
        inner = httpx.AsyncHTTPTransport(verify=cfg.verify_tls)
        options["transport"] = BasePathTransport(cfg.base_path, inner)
    return options


def safe_url(cfg: MattermostSettings) -> str:
    """The server URL as configured, without any user-info part."""
    return f"{cfg.scheme}://{url_host(cfg)}:{cfg.port}{cfg.base_path}"


def describe(exc: BaseException) -> str:
    """A short, token-free reason for logs and start-up errors."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, MattermostError):
        return f"HTTP {exc.status_code} ({exc.error_id or 'no error id'})"
    if isinstance(exc, InvalidMattermostError):
        return f"HTTP {exc.status_code} with a body that is not a Mattermost error"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


async def call(
    outbox: Outbox,
    key: str,
    request: Callable[[], Awaitable[T]],
    *,
    what: str = "REST call",
    policy: RetryPolicy | None = None,
    window: float | None = None,
) -> T:
    """Run one driver call through ``outbox``: a 429 waits its Retry-After, then retries; a
    transient failure is retried with back-off (``policy``), only within ``window`` seconds of
    the first attempt when one is given (for posts: see the module docstring)."""
    policy = policy or RetryPolicy()
    backoff = Backoff(base=policy.base, cap=policy.cap)
    started = time.monotonic()

    async def attempt() -> T:
        for tries in range(policy.retries + 1):
            try:
                return await request()
            except TooManyRequests as exc:
                raise RateLimited(exc.retry_after if exc.retry_after is not None else 1.0) from None
            except Exception as exc:
                if tries == policy.retries or not transient(exc):
                    raise
                delay = backoff.next_delay()
                if window is not None and time.monotonic() + delay - started >= window:
                    log.warning(
                        "mattermost: %s failed (%s); not retried, it may have been done already",
                        what,
                        describe(exc),
                    )
                    raise
                log.warning(
                    "mattermost: %s failed (%s); retry %d of %d in %.1f s",
                    what,
                    describe(exc),
                    tries + 1,
                    policy.retries,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    return await outbox.call(key, attempt)
