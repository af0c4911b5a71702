"""REST plumbing for mattermostautodriver: base path, driver options, 429s, readable failures.

The driver builds every URL as ``scheme://host:port/api/v4/...`` and ignores ``basepath``; a
server published under a sub-path (``https://example.org/chat``) gets the prefix from an httpx
transport instead. The driver's own 429 retries are turned off (``max_retries: 0``) so that
``bot.outbox.Outbox`` paces per channel and honours Retry-After for every call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from mattermostautodriver.exceptions import (
    InvalidMattermostError,
    MattermostError,
    TooManyRequests,
)

from bot.adapters.mattermost_config import MattermostSettings
from bot.outbox import Outbox, RateLimited

T = TypeVar("T")


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


async def call(outbox: Outbox, key: str, request: Callable[[], Awaitable[T]]) -> T:
    """Run one driver call through ``outbox``: a 429 waits its Retry-After, then retries."""
    async def attempt() -> T:
        try:
            return await request()
        except TooManyRequests as exc:
            raise RateLimited(exc.retry_after if exc.retry_after is not None else 1.0) from None
    return await outbox.call(key, attempt)
