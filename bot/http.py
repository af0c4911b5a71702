"""The bot's own HTTP server: health, Prometheus metrics, adapters' callbacks, skills' webhooks."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

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


class HttpServer:
    def __init__(self, app: Application) -> None:
        self.app = app
        self.web = web.Application()
        self.web[APP_KEY] = app
        self.registry = CollectorRegistry()
        self.registry.register(StatsCollector(app))
        self.web.router.add_get("/healthz", healthz)
        self.web.router.add_get("/metrics", self.metrics)
        # one route for every skill's webhooks, looked up per request (reloads change them)
        self.web.router.add_route("*", "/hooks/{skill}/{name}", app.webhooks.dispatch)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

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
        self._runner = web.AppRunner(self.web, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.host, cfg.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else cfg.port
        log.info("HTTP server on http://%s:%s", cfg.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
