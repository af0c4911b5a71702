"""The workflow engine: file requests, decide who may move them, record and publish every move.

Records first: a request (or a move of it), its history entry, its audit record and the
notifications it causes (card posts and updates, DMs, e-mail: outbox rows, ``bot.deliveries``)
are written in one transaction before anyone is told, so a crash keeps all or none of them and
a restarted bot sends what is pending. Filing is idempotent per draft (``draft_key``).
The engine never waits for a human: an approval is a stored state that a later event resumes.
The outbox is sent after the user's answer, and a failed delivery is retried; ``on_enter``
actions are owed by the same transaction (outbox rows) and run at most once, in the background
(``bot.workflow.hooks``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot.errors import PermissionDenied, UserError
from bot.faults import crash_point
from bot.services import ServiceKey
from bot.storage.models import Request, RequestEvent, User
from bot.workflow import copies
from bot.workflow.fields import display
from bot.workflow.hooks import HOOK, queue_on_enter, start_hook, warn_unknown_actions
from bot.workflow.loader import load_types
from bot.workflow.notify import Notifier, announce_arrival
from bot.workflow.permissions import Decision, decide
from bot.workflow.spec import RequestType, TransitionSpec

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

REF_RE = re.compile(r"(?:REQ[-_ ]?#?|#)?(\d{1,9})", re.IGNORECASE)
EDIT_ANY = "edit_any_request"  # the role group that may edit and delete anyone's requests


class FilingFailed(UserError):
    """The request could not be stored; nothing was saved and the user is told so."""


class AlreadyFiled(UserError):
    """The draft was filed before (a repeated "yes", or one after a crash): nothing new."""

    def __init__(self, request: Request) -> None:
        super().__init__(
            f"{request.ref} was already filed from these answers, so I filed nothing new. "
            f"Say `status of {request.ref}` to see it."
        )
        self.request = request


def parse_ref(text: str) -> int | None:
    m = REF_RE.fullmatch(text.strip())
    return int(m.group(1)) if m else None


def workflows_dir(settings: dict[str, Any]) -> Path:
    from bot.paths import config_dir

    raw = settings.get("dir")
    return Path(raw).expanduser() if raw else config_dir() / "workflows"


class Workflows:
    """The service skills use (``app.services[WORKFLOWS]``)."""

    def __init__(self, app: Application, types: dict[str, RequestType]) -> None:
        self.app = app
        self.types = types
        self.notifier = Notifier(app)
        copies.register(self)
        app.deliveries.register(HOOK, self._start_hook)

    async def _start_hook(self, payload: dict[str, Any]) -> None:
        await start_hook(self, payload)

    @classmethod
    def from_app(cls, app: Application) -> Workflows:
        directory = workflows_dir(app.settings.workflows)
        types = load_types(directory, app.settings.roles.known)
        warn_unknown_actions(types, app.actions)
        return cls(app, types)

    # -- types ---------------------------------------------------------------------------------
    def type_named(self, word: str) -> RequestType | None:
        word = word.strip().lower().replace(" ", "_")
        for name, spec in self.types.items():
            if word == name.lower() or word in (a.lower().replace(" ", "_") for a in spec.aliases):
                return spec
        return None

    def type_for_intent(self, intent: str, text: str = "") -> RequestType | None:
        """The type an NLU intent starts; keywords in the text pick among several."""
        candidates = [t for t in self.types.values() if t.intent == intent]
        lowered = text.lower()
        for spec in candidates:
            if any(k.lower() in lowered for k in spec.keywords):
                return spec
        plain = [t for t in candidates if not t.keywords] or candidates
        return plain[0] if plain else None

    def spec_of(self, req: Request) -> RequestType:
        spec = self.types.get(req.type)
        if spec is None:
            raise UserError(
                f"{req.ref} is of type {req.type!r}, which is no longer configured; "
                "an admin has to restore its workflow file."
            )
        return spec

    # -- reading -------------------------------------------------------------------------------
    async def get(self, ref: str | int) -> Request:
        number = ref if isinstance(ref, int) else parse_ref(ref)
        req = None if number is None else await Request.get_or_none(id=number)
        if req is None or req.deleted:
            raise UserError(
                f"There is no request {ref if isinstance(ref, str) else f'REQ-{ref}'}"
                ". Say `list my open requests` to see yours."
            )
        await req.fetch_related("requester", "filed_by")
        return req

    # -- filing --------------------------------------------------------------------------------
    async def file(
        self,
        spec: RequestType,
        data: dict[str, Any],
        requester: User,
        *,
        filed_by: User | None = None,
        channel: str | None = None,
        draft_key: str | None = None,
        also: Callable[[Request], Awaitable[None]] | None = None,
    ) -> Request:
        """Store a new request, its first history entry, its audit record, its posting and the
        approvers' notices in one transaction (``also`` runs inside it too: the dialogue marks
        its draft filed). A ``draft_key`` filed before raises ``AlreadyFiled``."""
        filer = filed_by or requester
        if draft_key:
            earlier = await Request.get_or_none(draft_key=draft_key)
            if earlier is not None:
                raise AlreadyFiled(earlier)
        try:
            async with self.app.deliveries.recording():
                req = await Request.create(
                    type=spec.name,
                    state=spec.initial,
                    requester=requester,
                    filed_by=filer,
                    fields_data=data,
                    channel=spec.channel,
                    draft_key=draft_key or None,
                )
                req.requester = requester
                await RequestEvent.create(
                    request=req,
                    actor=filer,
                    action="submitted",
                    to_state=spec.initial,
                    data={"fields": data, "from_channel": channel},
                )
                await self.app.audit.record_now(filer.key, "request.filed", req.ref, type=spec.name)
                await copies.publish_after(self, req)
                await announce_arrival(self, req, spec, filer)
                if requester.key != filer.key:
                    await self.notifier.tell(
                        requester.key,
                        f"{req.ref} filed for you",
                        f"{filer.name} filed {req.ref} ({self.describe(req, spec)}) for "
                        "you. I'll tell you when it moves.",
                        key=req.ref,
                    )
                if also is not None:
                    await also(req)
        except IntegrityError:
            earlier = await Request.get_or_none(draft_key=draft_key) if draft_key else None
            if earlier is None:
                raise self._filing_failed(spec, requester) from None
            raise AlreadyFiled(earlier) from None  # a second "yes" raced the first
        except Exception:
            raise self._filing_failed(spec, requester) from None
        crash_point("after-file-commit")
        return req

    def _filing_failed(self, spec: RequestType, requester: User) -> FilingFailed:
        log.error("filing a %s request for %s failed", spec.name, requester.key, exc_info=True)
        return FilingFailed(
            "I couldn't store your request because of a problem on my side, "
            "so nothing was filed. Your answers are kept: say `yes` to try "
            "again in a moment, or `cancel`."
        )

    # -- people --------------------------------------------------------------------------------
    def responsible(self, req: Request, spec: RequestType) -> list[str]:
        """User keys tagged while the request waits in its current state."""
        state = spec.states.get(req.state)
        if state is None or state.terminal:
            return []
        data = dict(req.fields_data)
        keys: list[str] = []
        for tag in state.tag:
            if not spec.test(tag.when, data):
                continue
            for role in tag.roles:
                keys += self.app.roles.holders(role)
            keys += tag.users
        return list(dict.fromkeys(keys))

    def mention(self, key: str) -> str:
        platform, _, user_id = key.partition(":")
        adapter = self.app.adapters.get(platform)
        return adapter.mention(user_id) if adapter is not None else key

    # -- permission ----------------------------------------------------------------------------
    def decide(
        self,
        req: Request,
        spec: RequestType,
        name: str,
        user_key: str,
        *,
        override: bool = False,
    ) -> Decision:
        """May ``user_key`` take transition ``name`` now? (see ``bot.workflow.permissions``)"""
        return decide(self.app.roles, req, spec, name, user_key, override=override)

    # -- moving --------------------------------------------------------------------------------
    async def transition(
        self, req: Request, name: str, actor: User, comment: str = "", *, override: bool = False
    ) -> Request:
        """Check, record, then publish and notify. Raises ``UserError`` with the reason if not
        allowed. ``override`` (an admin's, with a comment) lifts separation of duties only."""
        spec = self.spec_of(req)
        decision = self.decide(req, spec, name, actor.key, override=override)
        if not decision.allowed:
            self.app.audit.record(
                actor.key,
                "request.refused",
                req.ref,
                "denied",
                transition=name,
                reason=decision.reason,
            )
            raise PermissionDenied(decision.reason)
        tr = spec.transitions[name]
        before = req.state
        if not isinstance(req.requester, User):
            await req.fetch_related("requester", "filed_by")
        async with self.app.deliveries.recording():
            # re-read under the transaction so two clicks cannot both move the same state
            now = datetime.now(UTC)
            closed = now if spec.states[tr.to].terminal else None
            updated = await Request.filter(id=req.id, state=before).update(
                state=tr.to, updated_at=now, closed_at=closed
            )
            if not updated:
                raise UserError(
                    f"{req.ref} changed meanwhile; it is no longer {spec.state_label(before)}."
                )
            req.state, req.updated_at, req.closed_at = tr.to, now, closed
            await RequestEvent.create(
                request=req,
                actor=actor,
                action=name,
                from_state=before,
                to_state=tr.to,
                comment=f"[override] {comment}" if override else comment,
                data={"override": True} if override else {},
            )
            await self.app.audit.record_now(
                actor.key, f"request.{name}", req.ref, from_state=before, to_state=tr.to
            )
            if override:
                await self.app.audit.record_now(
                    actor.key, "request.override", req.ref, transition=name, reason=comment
                )
            await copies.refresh_after(self, req)
            await self._announce(req, spec, tr, actor, comment)
            if tr.to != before:  # the actions it owes: they start once this commits
                await queue_on_enter(self, req, spec, tr.to, actor)
        crash_point("after-transition-commit")
        await req.refresh_from_db()
        await req.fetch_related("requester", "filed_by")
        return req

    async def _announce(
        self, req: Request, spec: RequestType, tr: TransitionSpec, actor: User, comment: str
    ) -> None:
        requester = req.requester
        assert isinstance(requester, User)
        what = self.describe(req, spec)
        text = f"Your request {req.ref} ({what}) was {tr.past} by {actor.name}"
        text += f": {comment.rstrip().rstrip('.')}." if comment else "."
        if spec.is_open(req.state):
            text += f" It is now {spec.state_label(req.state)}."
        if requester.key != actor.key:
            await self.notifier.tell(requester.key, f"{req.ref} {tr.past}", text, key=req.ref)
        waiting = f"{req.ref} ({what}) is {spec.state_label(req.state)} and waits for you."
        for key in self.responsible(req, spec):
            if key != actor.key:
                await self.notifier.tell(key, f"{req.ref} waits for you", waiting, key=req.ref)

    def describe(self, req: Request, spec: RequestType) -> str:
        data = dict(req.fields_data)
        parts = [
            display(spec.fields[n], data.get(n))
            for n in list(spec.fields)[:2]
            if data.get(n) is not None
        ]
        return ", ".join([(spec.title or spec.name).lower(), *parts])

    async def assign(self, req: Request, assignee: str, actor: User) -> None:
        """Record who works on a request (``platform:id``), update every copy, tell them."""
        async with self.app.deliveries.recording():
            previous = req.assignee
            req.assignee = assignee
            await req.save(update_fields=["assignee", "updated_at"])
            await RequestEvent.create(
                request=req,
                actor=actor,
                action="assigned",
                from_state=req.state,
                to_state=req.state,
                data={"from": previous, "to": assignee},
            )
            await self.app.audit.record_now(
                actor.key, "request.assigned", req.ref, assignee=assignee
            )
            await copies.refresh_after(self, req)
            if assignee != actor.key:
                spec = self.spec_of(req)
                await self.notifier.dm(
                    assignee,
                    f"{actor.name} assigned {req.ref} ({(spec.title or spec.name).lower()}) "
                    "to you.",
                    key=req.ref,
                )

    # -- edit / delete -------------------------------------------------------------------------
    def may_edit(self, req: Request, user_key: str) -> bool:
        """The requester, or a role of the ``edit_any_request`` group (``roles.groups``)."""
        requester = req.requester
        return (
            isinstance(requester, User) and requester.key == user_key
        ) or self.app.roles.in_group(user_key, EDIT_ANY)

    def _editors(self) -> str:
        roles = self.app.roles.group(EDIT_ANY)
        return f"the requester or {' or '.join(roles)}" if roles else "the requester"

    async def edit(self, req: Request, changes: dict[str, Any], actor: User) -> Request:
        spec = self.spec_of(req)
        if not self.may_edit(req, actor.key):
            raise PermissionDenied(f"Only {self._editors()} can edit {req.ref}.")
        if not spec.is_open(req.state):
            raise UserError(
                f"{req.ref} is {spec.state_label(req.state)}; closed requests can't be edited."
            )
        old = dict(req.fields_data)
        new = {**old, **changes}
        diff = {k: [old.get(k), v] for k, v in changes.items() if old.get(k) != v}
        if not diff:
            raise UserError(f"{req.ref} already has those values.")
        # an approved request that changes goes back through the approvals its new values need
        before = req.state
        state = spec.initial if before != spec.initial else before
        changed = "; ".join(
            f"{spec.fields[k].label if k in spec.fields else k}: "
            f"{_shown(spec, k, was)} → {_shown(spec, k, now)}"
            for k, (was, now) in diff.items()
        )
        async with self.app.deliveries.recording():
            await Request.filter(id=req.id).update(
                fields_data=new, state=state, updated_at=datetime.now(UTC)
            )
            await RequestEvent.create(
                request=req,
                actor=actor,
                action="edited",
                from_state=before,
                to_state=state,
                comment=changed,
                data={"changes": diff, "reopened": state != before},
            )
            req.fields_data = new
            req.state = state
            await self.app.audit.record_now(
                actor.key, "request.edited", req.ref, changes=list(diff), reopened=state != before
            )
            await copies.refresh_after(self, req)
            if state != before:
                what = self.describe(req, spec)
                for key in self.responsible(req, spec):
                    if key != actor.key:
                        await self.notifier.dm(
                            key,
                            f"{req.ref} ({what}) changed after it was "
                            f"{spec.state_label(before)} and needs your approval again. "
                            f"Changed by {actor.name}: {changed}.",
                            key=req.ref,
                        )
        return req

    async def delete(self, req: Request, actor: User, comment: str = "") -> None:
        if not self.may_edit(req, actor.key):
            raise PermissionDenied(f"Only {self._editors()} can delete {req.ref}.")
        async with self.app.deliveries.recording():
            await Request.filter(id=req.id).update(
                deleted=True,
                updated_at=datetime.now(UTC),
                closed_at=req.closed_at or datetime.now(UTC),
            )
            await RequestEvent.create(
                request=req,
                actor=actor,
                action="deleted",
                from_state=req.state,
                to_state=req.state,
                comment=comment,
            )
            await self.app.audit.record_now(actor.key, "request.deleted", req.ref)
            await copies.delete_after(self, req)


#: the running workflow service, shared by the skills that file and move requests
WORKFLOWS: ServiceKey[Workflows] = ServiceKey("workflows", Workflows)


def _shown(spec: RequestType, name: str, value: Any) -> str:
    field = spec.fields.get(name)
    return display(field, value) if field is not None and value is not None else str(value)


def service(app: Application) -> Workflows:
    """The running workflow service (created by the requests skill at setup)."""
    found = app.services.get(WORKFLOWS)
    if found is None:
        found = app.services[WORKFLOWS] = Workflows.from_app(app)
    return found
