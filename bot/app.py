"""The application: owns adapters, storage, roles, skills, NLU, scheduler and HTTP, in order.

``async with Application(settings) as app`` starts everything and tears it down in reverse
(LIFO); adapters hand events to ``app.receive`` / ``app.interact``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot import heap
from bot import middleware as mw
from bot.actions import ActionRegistry
from bot.audit import AuditLog
from bot.background import BackgroundWork
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.context import Context
from bot.conversations import ConversationStore
from bot.dedupe import Deduplicator
from bot.deliveries import DM, Deliveries
from bot.dispatcher import Dispatcher
from bot.events import Choice, Event, Interaction, Message, PostedRef
from bot.inbound import Inbound
from bot.kv import KeyValueStore
from bot.loader import LoadReport, SkillLoader
from bot.logs import redact
from bot.observers import ObserverRunner
from bot.registry import Registry
from bot.roles import RoleService
from bot.router import route
from bot.services import Services
from bot.skillhost import SkillHost
from bot.stats import Stats
from bot.understanding import Understanding
from bot.users import UserDirectory
from bot.webhooks import WebhookTable

if TYPE_CHECKING:
    from bot.adapter import Adapter
    from bot.scheduler import Scheduler
    from nlu import ParseResult

log = logging.getLogger(__name__)
NAME_LOOKUP_SECONDS = 1.5  # a turn waits this long for the user's name, then uses the id

AdapterFactory = Callable[["Application"], "Adapter"]


class Application:
    def __init__(
        self,
        settings: Settings,
        *,
        adapters: Sequence[AdapterFactory] | None = None,
        load_nlu: bool = True,
        clock: Clock | None = None,
        deliver: bool = True,
    ) -> None:
        """``deliver=False`` for a process without chat platforms (a command-line run): the
        outbox rows it records are left for a running bot to send."""
        self.settings = settings
        self.name = settings.name
        self.clock: Clock = clock or SystemClock()
        self.stats = Stats()
        self.background = BackgroundWork(self.stats)
        #: the durable outbox: what follows a recorded change, sent after its commit
        self.deliveries = Deliveries(self.background, self.stats)
        self.deliveries.register(DM, self._deliver_dm)
        self.deliveries.sending = deliver
        self.actions = ActionRegistry()
        self.observers = ObserverRunner(
            self, repeat_after=timedelta(hours=settings.observers.repeat_after_hours)
        )
        self.roles = RoleService(settings.roles)
        self.users = UserDirectory()
        self.audit = AuditLog()
        self.conversations = ConversationStore(
            timedelta(minutes=settings.conversations.timeout_minutes)
        )
        self.loader = SkillLoader(settings.skills.packages, settings.skills.disabled)
        self.registry = Registry()
        self.skills = SkillHost(self)
        self.webhooks = WebhookTable()
        self.adapters: dict[str, Adapter] = {}
        self.scheduler: Scheduler | None = None
        self.http: Any = None
        self.redis: Any = None  # redis.asyncio client when ``redis.url`` is set
        self.started_at: float | None = None
        #: when start() began (wall clock): what the database holds from before is a past run's
        self.started_wall: datetime | None = None
        self.understanding = Understanding(settings.nlu, self.stats)
        self._load_nlu = load_nlu
        self._adapter_factories = list(adapters) if adapters is not None else None
        self._stack = contextlib.AsyncExitStack()
        self._outbound_filters: list[Callable[[str], str]] = [redact]
        self._before: list[mw.Middleware] = [mw.guard_errors]
        if settings.rate_limit.enabled:
            self._before.append(
                mw.RateLimiter(settings.rate_limit.messages, settings.rate_limit.per_seconds)
            )
        self._extra: list[mw.Middleware] = []
        self._watchers: list[mw.Middleware] = []
        self._pipeline = self._compose()
        self._overheard = self._compose_overheard()
        self.dispatcher = Dispatcher(self._handle, settings.dispatcher.max_pending)
        #: plumbing state that is not dialogue (part indexes, cursors …), with expiry
        self.kv = KeyValueStore()
        #: duplicate deliveries, for every platform (Redis once ``start`` opened it)
        self.dedupe = Deduplicator(prefix=settings.redis.prefix)
        self.inbound = Inbound(
            self.stats, self.dedupe, overhears=self._overhears, watched=lambda: bool(self._watchers)
        )
        self._deliver = self.inbound.chain(self._submit)
        self._deliver_now = self.inbound.chain(self._run_now)
        #: per-application extension points that skills and adapters may fill at setup
        self.services = Services()
        #: run once at start after the skills' setup, before any adapter connects; one that
        #: raises (``StartupRefused``) stops the start with its message
        self.startup_checks: list[Callable[[], Awaitable[None]]] = []

    def _compose(self) -> mw.Next:
        chain = [*self._before, *self._extra, route, mw.authorize, mw.audit]
        return mw.compose(chain, _call_handler)

    def _compose_overheard(self) -> mw.Next:
        return mw.compose([mw.guard_errors, *self._watchers], self._drop_overheard)

    async def _drop_overheard(self, ctx: Context) -> None:
        self.stats.ignored += 1

    def use(self, middleware: mw.Middleware, *, overheard: bool = False) -> None:
        """Add inbound middleware (before routing), e.g. secret redaction; idempotent.

        ``overheard=True`` also shows it the channel messages *not* addressed to the bot (which
        are otherwise dropped unseen), e.g. to refuse a secret pasted into a channel.
        """
        if middleware not in self._extra:
            self._extra.append(middleware)
            self._pipeline = self._compose()
        if overheard and middleware not in self._watchers:
            self._watchers.append(middleware)
            self._overheard = self._compose_overheard()

    def unuse(self, middleware: mw.Middleware) -> None:
        if middleware in self._extra:
            self._extra.remove(middleware)
            self._pipeline = self._compose()
        if middleware in self._watchers:
            self._watchers.remove(middleware)
            self._overheard = self._compose_overheard()

    def _overhears(self, message: Message) -> bool:
        """True when ``message`` is chatter the bot was not asked to answer."""
        return not message.addressed and self.conversations.peek(message.conversation_key) is None

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        from bot.private import secure_storage
        from bot.storage.db import close_database, open_database

        stack = self._stack
        self.started_wall = datetime.now(UTC)
        try:
            database = self.settings.database
            secure_storage(database.resolved_url())
            await open_database(database.resolved_url(), query_timeout=database.timeout_seconds)
            stack.push_async_callback(close_database)
            if self.settings.redis.url:
                await self._open_redis(self.settings.redis.url)
                stack.push_async_callback(self._close_redis)
            self.dedupe.redis = self.redis
            await self.dedupe.start()
            stack.push_async_callback(self.dedupe.stop)
            await self.kv.start()
            stack.push_async_callback(self.kv.stop)
            await self.roles.load()
            await self.roles.seed(self.settings.roles.grants)
            for person, accounts in self.settings.identities.items():
                for account in accounts:
                    self.roles.link(account, person)
            await self.conversations.load()
            if self.redis is not None:  # several processes: share dialogue state live
                await self.conversations.start_sync(self.redis, prefix=self.settings.redis.prefix)
                stack.push_async_callback(self.conversations.stop_sync)
            await self.audit.start()
            stack.push_async_callback(self.audit.stop)
            self.background.start()
            report = await self.reload_skills(initial=True)
            for name, why in report.failed.items():
                log.error("skill %s failed to load: %s", name, why)
            stack.push_async_callback(self.skills.unload_all)
            for check in list(self.startup_checks):
                await check()
            from bot.scheduler import Scheduler

            self.scheduler = Scheduler(self)
            self.scheduler.start()
            self.scheduler.sync(self.registry)
            stack.push_async_callback(self.scheduler.stop)
            self.observers.start()
            stack.push_async_callback(self.observers.stop)
            if self.settings.http.enabled:
                from bot.http import HttpServer

                self.http = HttpServer(self)
            adapters = [factory(self) for factory in self._resolve_adapter_factories()]
            for adapter in adapters:  # constructors may add HTTP routes (callbacks)
                self.adapters[adapter.platform] = adapter
            if self.http is not None:
                await self.http.start()
                stack.push_async_callback(self.http.stop)
            for adapter in adapters:
                await adapter.connect()
                stack.push_async_callback(adapter.disconnect)
            # once the platforms are there: sends what a crashed run left, then what comes
            await self.deliveries.start(shared=self.redis is not None)
            stack.push_async_callback(self.deliveries.stop)
            # at stop, running jobs are cancelled while the adapters they send through are still
            # connected (the earlier registration covers a failed start; a second stop is a no-op)
            stack.push_async_callback(self.scheduler.stop)
            if self._load_nlu:  # last: a bad platform token must fail fast, not after training
                self.understanding.start()
                stack.push_async_callback(self.understanding.stop)
            # drained after the handlers finish, while the adapters and database are still there
            stack.push_async_callback(self.background.stop)
            # registered last so it runs first at stop: in-flight handlers finish while the
            # adapters, the NLU and the database they use are still there
            stack.push_async_callback(self.dispatcher.close)
            self.started_at = time.monotonic()
        except BaseException:
            await stack.aclose()
            raise

    async def stop(self) -> None:
        await self._stack.aclose()
        self.adapters.clear()

    async def _open_redis(self, url: str) -> None:
        import redis.asyncio as aioredis

        from bot.errors import StorageUnavailable
        from bot.logs import redact_url

        client = aioredis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            await client.ping()
        except Exception as exc:  # redis raises ConnectionError/TimeoutError/AuthenticationError
            await client.aclose()
            raise StorageUnavailable(
                f"cannot reach Redis at {redact_url(url)}: {type(exc).__name__}"
            ) from None
        self.redis = client

    async def _close_redis(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()
            self.redis = None

    def _resolve_adapter_factories(self) -> list[AdapterFactory]:
        if self._adapter_factories is not None:
            return self._adapter_factories
        from bot.adapters import factories_from_settings

        return factories_from_settings(self.settings)

    # -- skills --------------------------------------------------------------------------------
    async def reload_skills(self, *, initial: bool = False) -> LoadReport:
        """Re-import skills atomically per module (see ``bot.skillhost``)."""
        report = await self.skills.reload()
        if not initial:
            self.stats.reloads += 1
            if self.scheduler is not None:
                self.scheduler.sync(self.registry)
            if heap.settled():  # the replaced modules were frozen: let them go
                heap.settle()
        return report

    # -- NLU -----------------------------------------------------------------------------------
    @property
    def nlu_enabled(self) -> bool:
        return self.understanding.enabled

    async def parse(self, text: str, now: datetime | None = None) -> ParseResult | None:
        """The NLU's reading of ``text``, or None when it cannot answer (the fallback answers)."""
        return await self.understanding.parse(text, now)

    # -- events in -----------------------------------------------------------------------------
    async def receive(self, message: Message) -> None:
        """Adapters call this for every message they see; the inbound stages (``bot.inbound``)
        drop echoes, chatter and duplicates, the rest is queued for its conversation."""
        await self._deliver(message)

    async def interact(self, interaction: Interaction) -> None:
        """Adapters call this for every click; duplicates are dropped, the rest queued."""
        await self._deliver(interaction)

    async def process(self, event: Event) -> None:
        """Handle one event and wait for it (scripts and tests); unaddressed input is dropped."""
        await self._deliver_now(event)

    async def _submit(self, event: Event) -> None:
        await self.dispatcher.submit(event.conversation_key, event)

    async def _run_now(self, event: Event) -> None:
        await self.dispatcher.run(event.conversation_key, event)

    async def _handle(self, event: Event) -> None:
        adapter = self.adapters[event.platform]
        ctx = Context(self, adapter, event)
        if isinstance(event, Message) and self._watchers and self._overhears(event):
            event.user_name = event.user_name or event.user_id  # chatter: no look-up
            await self._overheard(ctx)
            return
        if not event.user_name:  # the adapter handed it over without (Slack: acked first)
            event.user_name = await _name_of(adapter, event.user_id)
        with self.background.turn():  # the answer first, then the work it started
            await self._pipeline(ctx)
        self.stats.handled += 1

    # -- events out ----------------------------------------------------------------------------
    def add_outbound_filter(self, func: Callable[[str], str]) -> None:
        self._outbound_filters.append(func)

    def remove_outbound_filter(self, func: Callable[[str], str]) -> None:
        if func in self._outbound_filters:
            self._outbound_filters.remove(func)

    def outbound(self, text: str) -> str:
        for func in self._outbound_filters:
            text = func(text)
        return text

    async def notify(
        self, user_key: str, text: str, *, choices: Sequence[Choice] = ()
    ) -> PostedRef | None:
        """DM a user by ``platform:id`` (or a person by ``person:NAME``, on the first of their
        accounts whose platform is connected); None if no platform of theirs is running."""
        if user_key.startswith("person:"):
            for account in self.roles.accounts_of(user_key):
                if account.partition(":")[0] in self.adapters:
                    return await self.notify(account, text, choices=choices)
            log.warning("cannot notify %s: none of their platforms is connected", user_key)
            return None
        platform, _, user_id = user_key.partition(":")
        adapter = self.adapters.get(platform)
        if adapter is None:
            log.warning("cannot notify %s: platform %s is not connected", user_key, platform)
            return None
        return await adapter.send_dm(user_id, self.outbound(text), choices=choices)

    async def dm_later(
        self, user_key: str, text: str, *, choices: Sequence[Choice] = (), key: str = ""
    ) -> None:
        """DM through the outbox: inside ``deliveries.recording()`` it commits with the change
        it reports and is sent after it (by this process, or by a running bot when this one has
        no platform); ``key`` keeps one subject's messages in order."""
        payload: dict[str, Any] = {"to": user_key, "text": text}
        if choices:
            payload["choices"] = [
                {"label": c.label, "action": c.action, "value": c.value, "style": c.style}
                for c in choices
            ]
        await self.deliveries.add(DM, payload, key=key)

    async def _deliver_dm(self, payload: dict[str, Any]) -> None:
        choices = [
            Choice(str(c["label"]), str(c["action"]), str(c.get("value", "")), str(c["style"]))
            for c in payload.get("choices") or ()
        ]
        # None (no platform of theirs is connected) is logged by notify, and not retried
        await self.notify(str(payload["to"]), str(payload["text"]), choices=choices)

    async def post(
        self,
        platform: str,
        channel: str,
        text: str,
        *,
        thread: str | None = None,
        choices: Sequence[Choice] = (),
    ) -> PostedRef | None:
        adapter = self.adapters.get(platform)
        if adapter is None:
            return None
        return await adapter.send(channel, self.outbound(text), thread=thread, choices=choices)


async def _name_of(adapter: Adapter, user_id: str) -> str:
    """The user's display name, or their id when the platform is slow or will not say."""
    try:
        info = await asyncio.wait_for(adapter.user_info(user_id), NAME_LOOKUP_SECONDS)
    except Exception as exc:  # TimeoutError, or the platform's own error
        log.warning(
            "no name for %s:%s (%s); using the id", adapter.platform, user_id, type(exc).__name__
        )
        return user_id
    return info.name or user_id


async def _call_handler(ctx: Context) -> None:
    spec = ctx.spec
    if spec is not None:
        await spec.func(ctx)
