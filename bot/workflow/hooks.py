"""``on_enter`` hooks: when a request enters a state, run the named actions after the turn.

Each action runs once (never retried: creating a VM twice is worse than reporting a failure),
in the background after the user's answer, with the request, the actor and a ``progress``
callback that edits one status message in the requester's DMs. It is not an outbox row: a crash
before it has run loses it (docs/operations.md says how to spot and redo it). Its
``ActionResult`` is recorded as a ``RequestEvent`` ("hook:<name>") in the request's history,
with its audit record and its notices (copies refreshed, the requester told: outbox rows), in
one transaction. A missing or failing action is recorded as failed, the requester and staff
are told in plain words, and the transition stands: it is already committed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.actions import ActionRegistry, ActionResult, ActionRun
from bot.errors import UserError
from bot.plugins import PluginError
from bot.providers import StatusMessage
from bot.storage.models import Request, RequestEvent, User
from bot.workflow import copies

if TYPE_CHECKING:
    from bot.workflow.engine import Workflows
    from bot.workflow.spec import RequestType

log = logging.getLogger(__name__)

STAFF_ROLE = "staff"


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


def schedule_on_enter(
    wf: Workflows, req: Request, spec: RequestType, state: str, actor: User | None
) -> None:
    """Queue the actions of ``spec.on_enter[state]`` after the current turn, in order."""
    for name in spec.on_enter.get(state, []):

        async def job(name: str = name) -> None:
            await run_action(wf, req.id, name, state, actor)

        wf.app.background.submit(f"{req.ref}: hook {name}", job, key=req.ref, attempts=1)


async def run_action(
    wf: Workflows, request_id: int, name: str, state: str, actor: User | None
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
    async with app.deliveries.recording():  # the result, its record and its notices together
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
        if result.ok and status.ref is None:
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
    if status.ref is not None:
        await status.finish(result.text or "done" if result.ok else f"failed: {result.text}")
    return result


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
