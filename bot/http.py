"""The bot's own HTTP server: health, Prometheus metrics, adapters' callbacks, skills' webhooks.

Health and metrics can move to their own listener and/or require a bearer token (issue #13).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

APP_KEY: web.AppKey[Application] = web.AppKey("quartermaster", object)  # type: ignore[arg-type]


class StatsCollector(Collector):
    """Reads the plain counters at scrape time, so counting costs nothing per message."""

    def __init__(self, app: Application) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        s = self.app.stats
        received = CounterMetricFamily(
            "quartermaster_messages_received",
            "Messages received from chat platforms",
            labels=["platform"],
        )
        for platform, n in sorted(s.received.items()):
            received.add_metric([platform], n)
        yield received
        for name, value, doc in (
            ("handled", s.handled, "Events that reached a handler"),
            ("ignored", s.ignored, "Messages not addressed to the bot"),
            ("errors", s.errors, "Handlers that failed unexpectedly"),
            ("denied", s.denied, "Turns refused for a missing role"),
            ("rate_limited", s.rate_limited, "Messages dropped by the per-user rate limit"),
            ("interactions", s.interactions, "Button clicks and numbered choices"),
            ("skill_reloads", s.reloads, "Skills reloads"),
            ("nlu_parses", s.nlu_parses, "Messages parsed by the NLU"),
            ("nlu_unavailable", s.nlu_unavailable, "NLU parses that failed"),
            (
                "background_submitted",
                s.background_submitted,
                "Work handed to run after the turn (copy updates, DMs, e-mail)",
            ),
            ("background_done", s.background_done, "Background work that finished"),
            ("background_retried", s.background_retried, "Background attempts tried again"),
            ("background_failed", s.background_failed, "Background work given up on"),
            ("background_lost", s.background_lost, "Background work pending when stop timed out"),
            ("outbox_added", s.outbox_added, "Durable deliveries written with a change"),
            ("outbox_done", s.outbox_done, "Durable deliveries sent"),
            ("outbox_retried", s.outbox_retried, "Durable delivery attempts tried again"),
            ("outbox_failed", s.outbox_failed, "Durable deliveries given up on"),
            ("observer_runs", s.observer_runs, "Observer checks run"),
            ("observer_alerts", s.observer_alerts, "Findings told to people by observers"),
            ("observer_errors", s.observer_errors, "Observer checks that failed"),
            ("actions_run", s.actions_run, "Workflow actions run on entering a state"),
            ("actions_failed", s.actions_failed, "Workflow actions that failed"),
        ):
            yield CounterMetricFamily(f"quartermaster_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "quartermaster_dispatch_pending",
            "Events queued or running",
            value=self.app.dispatcher.pending,
        )
        connected = GaugeMetricFamily(
            "quartermaster_adapter_connected",
            "1 when the platform connection is up",
            labels=["platform"],
        )
        for platform, adapter in self.app.adapters.items():
            connected.add_metric([platform], 1.0 if adapter.connected else 0.0)
        yield connected
        if self.app.started_at is not None:
            yield GaugeMetricFamily(
                "quartermaster_uptime_seconds",
                "Seconds since start",
                value=time.monotonic() - self.app.started_at,
            )


HEALTH_DB_SECONDS = 2.0  # /healthz answers within this even when the database stalls


async def healthz(request: web.Request) -> web.Response:
    """Readiness: 503 while the database does not answer within ``HEALTH_DB_SECONDS`` or a
    platform is disconnected. Redis being away is reported but keeps it ready: messages are
    still handled (de-duplicated locally, see ``bot.dedupe``)."""
    app = request.app[APP_KEY]
    adapters = {name: a.connected for name, a in app.adapters.items()}
    db_ok = True
    try:
        from tortoise import Tortoise

        async with asyncio.timeout(HEALTH_DB_SECONDS):
            await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception:
        db_ok = False
    healthy = db_ok and all(adapters.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "database": db_ok,
        "adapters": adapters,
        "skills": sorted(app.registry.skills),
        "pending": app.dispatcher.pending,
    }
    if app.dedupe.redis is not None:
        body["redis"] = not app.dedupe.redis_down
    return web.json_response(body, status=200 if healthy else 503)


def bearer_guard(token: str | None, handler: Handler) -> Handler:
    """``handler`` answering only requests with ``Authorization: Bearer <token>`` (constant-time
    comparison); without a token, ``handler`` itself."""
    if not token:
        return handler
    expected = token.encode()

    async def guarded(request: web.Request) -> web.StreamResponse:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            return web.json_response(
                {"error": "a bearer token is required"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="quartermaster"'},
            )
        return await handler(request)

    return guarded


class HttpServer:
    """The main listener (platform callbacks, skills' webhooks) and, with ``http.health.port``,
    a second one for ``/healthz`` and ``/metrics`` so they can stay on an internal address while
    the callbacks face the platform."""

    def __init__(self, app: Application) -> None:
        self.app = app
        self.web = web.Application()
        self.web[APP_KEY] = app
        self.registry = CollectorRegistry()
        self.registry.register(StatsCollector(app))
        health = app.settings.http.health
        self.health_web = self.web
        if health.port is not None:
            self.health_web = web.Application()
            self.health_web[APP_KEY] = app
        self.health_web.router.add_get("/healthz", bearer_guard(health.token, healthz))
        self.health_web.router.add_get("/metrics", bearer_guard(health.token, self.metrics))
        # one route for every skill's webhooks, looked up per request (reloads change them)
        self.web.router.add_route("*", "/hooks/{skill}/{name}", app.webhooks.dispatch)
        self._runners: list[web.AppRunner] = []
        self.port: int | None = None
        #: where /healthz and /metrics answer: ``port`` unless ``http.health.port`` is set
        self.health_port: int | None = None

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    def add_route(self, method: str, path: str, handler: Any) -> None:
        """Adapters add their callbacks here before the server starts (Mattermost actions, Slack
        events); skills use ``scope.add_webhook`` instead, served under ``/hooks/``."""
        self.web.router.add_route(method, path, handler)

    async def start(self) -> None:
        cfg = self.app.settings.http
        self.port = await self._listen(self.web, cfg.host, cfg.port)
        log.info("HTTP server on http://%s:%s", cfg.host, self.port)
        self.health_port = self.port
        if self.health_web is not self.web:
            host = cfg.health.host or cfg.host
            assert cfg.health.port is not None
            self.health_port = await self._listen(self.health_web, host, cfg.health.port)
            log.info("health and metrics on http://%s:%s", host, self.health_port)
        elif not cfg.health.token and not _is_loopback(cfg.host):
            log.warning(
                "/healthz and /metrics are open to anyone reaching %s:%s; set http.health.token "
                "or http.health.port (docs/configuration.md)",
                cfg.host,
                self.port,
            )

    async def _listen(self, app: web.Application, host: str, port: int) -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        self._runners.append(runner)
        site = web.TCPSite(runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop(self) -> None:
        while self._runners:
            await self._runners.pop().cleanup()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
