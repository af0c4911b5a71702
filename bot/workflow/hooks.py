"""``on_enter`` hooks: when a request enters a state, run the named actions after the turn.

Each action is owed from the moment the transition commits: the transition's transaction writes
one outbox row per action (kind ``workflow.hook``; a request's actions start in order). Sending
that row *starts* the action: a marker in ``qm_kv`` (namespace ``workflow.hooks``, one per row)
is created first, then the action runs in the background with the request, the actor and a
``progress`` callback that edits one status message in the requester's DMs. Its
``ActionResult`` is recorded as a ``RequestEvent`` ("hook:<name>") in the request's history,
with its audit record, its notices (copies refreshed, the requester told: outbox rows) and the
marker's "done", in one transaction.

An action runs at most once (creating a VM twice is worse than reporting a failure) and is never
lost silently: a crash before it started leaves the row, which the next start sends; a crash
while it ran leaves a marker that is started but not done, which ``sweep_interrupted`` reports
as a failed step ("interrupted by a restart") to the requester and staff, who check the
resource by hand. A missing or failing action is recorded as failed the same way, and the
transition stands: it is already committed.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError

from bot.actions import ActionRegistry, ActionResult, ActionRun
from bot.errors import UserError
from bot.faults import crash_point
from bot.plugins import PluginError
from bot.providers import StatusMessage
from bot.storage.models import KeyValue, Request, RequestEvent, User
from bot.workflow import copies

if TYPE_CHECKING:
    from bot.app import Application
    from bot.workflow.engine import Workflows
    from bot.workflow.spec import RequestType

log = logging.getLogger(__name__)

STAFF_ROLE = "staff"
#: the outbox kind of an owed action, and the ``qm_kv`` namespace of its started/done marker
HOOK = "workflow.hook"
MARKERS = "workflow.hooks"
STARTED, DONE = "started", "done"  # the marker's state, for people reading qm_kv
#: how long a done marker is kept (a re-sent row within it is recognised as done)
KEEP_DONE = timedelta(days=30)
INTERRUPTED = (
    "It was interrupted (the bot stopped or crashed while it ran), so it may be half done: "
    "staff should check by hand and redo it if needed."
)


def warn_unknown_actions(types: dict[str, RequestType], actions: ActionRegistry) -> list[str]:
    """Log the ``on_enter`` actions nobody provides yet (a skill may still register them:
    a name still unknown when the state is entered is recorded as a failure then)."""
    known = actions.names()
    missing = sorted(
        {
            f"{spec.source or name}: on_enter.{state}: {action}"
            for name, spec in types.items()
            for state, names in spec.on_enter.items()
            for action in names
            if action not in known
        }
    )
    for line in missing:
        log.warning("%s is not a registered action (yet)", line)
    return missing


class ShuttingDown(Exception):
    """An owed action is not started while the bot stops (its outbox row waits)."""


async def queue_on_enter(
    wf: Workflows, req: Request, spec: RequestType, state: str, actor: User | None
) -> None:
    """Owe the actions of ``spec.on_enter[state]``: call inside the transition's transaction."""
    for name in spec.on_enter.get(state, []):
        payload = {
            "hook": uuid.uuid4().hex,
            "request": req.id,
            "name": name,
            "state": state,
            "actor": actor.id if actor is not None else None,
        }
        await wf.app.deliveries.add(HOOK, payload, key=f"{req.ref}:hooks")


async def start_hook(wf: Workflows, payload: dict[str, Any]) -> None:
    """The outbox handler of an owed action: mark it started, then run it in the background.
    A row sent again (its process died before the row was marked sent) finds the marker:
    done → nothing to do; started → it was interrupted, and is reported, never re-run."""
    hook, name, state = str(payload["hook"]), str(payload["name"]), str(payload["state"])
    if not wf.app.background.running:  # stopping: leave the row to the next start
        raise ShuttingDown(f"not starting {name} while the bot stops")
    req = await Request.get_or_none(id=int(payload["request"]))
    if req is None:
        log.warning("hook %s: request %s is gone; %s not run", hook, payload["request"], name)
        return
    actor_id = payload.get("actor")
    actor = await User.get_or_none(id=int(actor_id)) if actor_id is not None else None
    try:
        await KeyValue.create(
            namespace=MARKERS,
            key=hook,
            value={"v": {"state": STARTED, "request": req.id, "name": name, "step": state}},
        )
    except IntegrityError:  # sent before: done, or cut short (reported once, by whoever wins)
        await record_result(wf, req, name, state, ActionResult(False, INTERRUPTED), hook, cut=True)
        return

    async def job() -> None:
        await run_action(wf, req.id, name, state, actor, hook=hook)

    wf.app.background.submit(f"{req.ref}: hook {name}", job, key=req.ref, attempts=1)


async def sweep_interrupted(wf: Workflows, *, started_before: datetime) -> int:
    """Report every action started before ``started_before`` that never finished (its process
    died, or stopped mid-run) as a failed step; returns how many. Alone, the bot calls it at
    start with its own start time; with other processes, for markers older than any action
    may run (``interrupted_before``)."""
    found = 0
    for marker in await KeyValue.filter(
        namespace=MARKERS, expires_at__isnull=True, updated_at__lt=started_before
    ):
        data = marker.value.get("v") or {}
        req = await Request.get_or_none(id=int(data.get("request", 0)))
        if req is None:
            await marker.delete()
            continue
        name, state = str(data.get("name", "?")), str(data.get("step") or req.state)
        interrupted = ActionResult(False, INTERRUPTED)
        found += await record_result(wf, req, name, state, interrupted, marker.key, cut=True)
    return found


def interrupted_before(app: Application) -> datetime:
    """Markers older than this belong to no running action: alone (no ``redis.url``), any from
    before this process started; with other processes, any older than the longest an action may
    run (``workflows.max_action_minutes``, 180)."""
    if app.redis is None and app.started_wall is not None:
        return app.started_wall
    minutes = float(app.settings.workflows.get("max_action_minutes", 180))
    return datetime.now(UTC) - timedelta(minutes=minutes)


async def run_action(
    wf: Workflows,
    request_id: int,
    name: str,
    state: str,
    actor: User | None,
    *,
    hook: str | None = None,
) -> ActionResult:
    """Run one action, record its result in the history, and post it back."""
    app = wf.app
    req = await Request.get(id=request_id)
    await req.fetch_related("requester")
    requester = req.requester
    assert isinstance(requester, User)
    status = StatusMessage(
        app,
        requester.platform,
        "",
        dm_to=requester.key,
        title=f"{req.ref}: {name.replace('_', ' ')}",
    )
    result = await _call(name, ActionRun(app, req, actor, state, status), req.ref)
    app.stats.actions_run += 1
    if not result.ok:
        app.stats.actions_failed += 1
    crash_point("after-hook-action")
    await record_result(wf, req, name, state, result, hook, shown=status.ref is not None)
    if status.ref is not None:
        await status.finish(result.text or "done" if result.ok else f"failed: {result.text}")
    return result


async def record_result(
    wf: Workflows,
    req: Request,
    name: str,
    state: str,
    result: ActionResult,
    hook: str | None,
    *,
    shown: bool = False,
    cut: bool = False,
) -> bool:
    """The result in the history, its audit record, its notices and the marker's "done", in one
    transaction (``shown``: a status message already shows the requester a success). ``cut``:
    the report of an interrupted action, made only if the marker is still "started" (a done
    action, or one another process reported meanwhile, is left alone); False when not made."""
    app = wf.app
    if not isinstance(req.requester, User):
        await req.fetch_related("requester")
    requester = req.requester
    assert isinstance(requester, User)
    async with app.deliveries.recording():  # the result, its record and its notices together
        if hook is not None:  # "done" once: a marker without an expiry is still running
            marked = await KeyValue.filter(
                namespace=MARKERS, key=hook, expires_at__isnull=True
            ).update(
                value={"v": {"state": DONE, "request": req.id, "name": name, "step": state}},
                expires_at=datetime.now(UTC) + KEEP_DONE,
            )
            if cut and not marked:
                return False
        await RequestEvent.create(
            request=req,
            actor=None,
            action=f"hook:{name}",
            from_state=state,
            to_state=state,
            comment=result.text,
            data={"ok": result.ok, **result.data},
        )
        await app.audit.record_now(
            "workflow", f"action.{name}", req.ref, "ok" if result.ok else "error"
        )
        await copies.refresh_after(wf, req)
        if result.ok and not shown:
            await wf.notifier.tell(
                requester.key,
                f"{req.ref} {name}",
                f"{req.ref}: {result.text}" if result.text else f"{req.ref}: {name} done.",
                key=req.ref,
            )
        elif not result.ok:
            label = wf.spec_of(req).state_label(state)
            text = (
                f"{req.ref}: the step {name!r} after it became {label} failed: {result.text} "
                f"The request stays {label}; staff have been told."
            )
            await wf.notifier.tell(requester.key, f"{req.ref} {name} failed", text, key=req.ref)
            for key in app.roles.holders(STAFF_ROLE):
                if key != requester.key:
                    await wf.notifier.dm(
                        key,
                        f"{req.ref}: action {name!r} failed: {result.text} "
                        f"(see `status of {req.ref}`).",
                        key=req.ref,
                    )
    return True


async def _call(name: str, run: ActionRun, ref: str) -> ActionResult:
    """The action's result; every failure becomes a failed result with a readable text."""
    try:
        func = run.app.actions.get(name)
    except PluginError as exc:
        log.error("action %s for %s could not be loaded: %s", name, ref, exc)
        return ActionResult(
            False, f"The action {name!r} could not be loaded (an admin should check the bot's log)."
        )
    if func is None:
        return ActionResult(
            False,
            f"No action named {name!r} is registered (is the skill that provides it loaded?).",
        )
    try:
        result = await func(run)
    except UserError as exc:  # ProviderError and friends: written for people
        return ActionResult(False, str(exc))
    except Exception as exc:
        log.exception("action %s for %s failed", name, ref)
        return ActionResult(
            False,
            f"It failed unexpectedly ({type(exc).__name__}); the details are in the bot's log.",
        )
    if not isinstance(result, ActionResult):
        log.error("action %s returned %r instead of an ActionResult", name, type(result))
        return ActionResult(False, f"The action {name!r} returned no result.")
    return result
