"""Virtual machines from chat: ask, confirm, create (or file for approval), list, show, extend,
release; and the observers that watch them (idle, expiry, cleanup, staff summary, reconcile).

"spin up 2 ubuntu 22.04 m1.large for a week" → the bot asks only for what is missing, restates
the whole request with Yes/No (the model inferred it), then creates the VMs with the requester's
own credential — or, beyond the ``vms:`` policy, files a ``vm`` request for staff approval whose
``provision_vms`` action creates them once approved. Progress is one edited message in the thread.
The logic lives in ``skills._resources``; this module maps chat to it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

from bot.actions import ActionResult, ActionRun
from bot.app import Application
from bot.checks import in_group
from bot.confirm import is_yes_or_no, said_yes, unsure
from bot.context import Context
from bot.errors import UserError
from bot.events import Choice, Message
from bot.middleware import Next
from bot.providers import StatusMessage
from bot.scope import SkillScope
from bot.skill import Skill
from bot.storage.models import User
from skills._resources import provision, store
from skills._resources.draft import QUESTIONS, Draft, answer, days_of, days_text, from_message
from skills._resources.observers import register_observers
from skills._resources.policy import (
    approval_reasons,
    extension_needs_approval,
    refuse_beyond_limits,
)
from skills._resources.registry import PROVIDERS, MissingCredential, ProviderRegistry, registry
from skills._resources.settings import VmSettings, vm_settings
from skills._resources.waiting import WAITING, Waiting, waiting

log = logging.getLogger(__name__)

skill = Skill("vms", "Virtual machines: create, list, extend and release yours.")

DRAFT = "vms.draft"
CONFIRM = "vms.confirm"
YES_ACTION, NO_ACTION = "vms.yes", "vms.no"
PROVIDER_ACTION = "vms.provider"
EXTEND_ACTION, RELEASE_ACTION = "vms.extend", "vms.release"
KEEP_ACTION, SNOOZE_ACTION = "vms.keep", "vms.snooze"

_VM_NAME = r"(?P<vm>vm-?\d{1,9})"
_ABOUT_VMS = re.compile(
    r"\b(?:vms?|virtual\s+machines?|instances?|machines?|servers?|vm-?\d{1,9})\b", re.IGNORECASE
)
_RESOURCE_VM = re.compile(r"vm-?\d{1,9}", re.IGNORECASE)


def _settings(app: Application) -> VmSettings:
    return vm_settings(app.settings)


def _staff(ctx: Context) -> bool:
    return ctx.app.roles.in_group(ctx.user_key, _settings(ctx.app).staff_group)


def about_vms(ctx: Context) -> bool:
    """The message is about VMs (a vm-N id, or words like vm / instance / machine / server)."""
    resource = ctx.entity("resource_id")
    if isinstance(resource, str) and _RESOURCE_VM.fullmatch(resource):
        return True
    return _ABOUT_VMS.search(ctx.text[:500]) is not None


def _where(ctx: Context) -> dict[str, Any]:
    ev = ctx.event
    thread = ev.thread
    if isinstance(ev, Message) and not ev.direct:
        thread = ev.thread or ev.id
    return {"platform": ctx.platform, "channel": ctx.channel, "thread": thread}


# -- lifecycle -----------------------------------------------------------------------------------
@skill.setup
async def setup(scope: SkillScope) -> None:
    """Providers open for the skill's life; actions, observers and the resume middleware."""
    settings = _settings(scope.app)  # a bad `vms:` section stops the load, naming the key
    providers = ProviderRegistry.build(scope.app, settings.providers)
    scope.provide(PROVIDERS, providers)
    scope.on_close(providers.close)
    pending = await Waiting.load()
    scope.provide(WAITING, pending)
    scope.use(resume_after_storing)
    scope.add_action("provision_vms", provision_vms_action)
    scope.add_action("extend_vm", extend_vm_action)
    register_observers(scope)


# -- asking for VMs ------------------------------------------------------------------------------
@skill.intent("provision_vm", help='get virtual machines — e.g. "spin up 2 ubuntu VMs for a week"')
async def provision_vm(ctx: Context) -> None:
    if not _settings(ctx.app).enabled:
        raise UserError("VMs are not offered here (`vms.enabled` is off); ask the helpdesk.")
    providers = registry(ctx.app)
    entities = []
    if ctx.parse is not None:
        entities = [(e.entity, e.value, e.start, e.end) for e in ctx.parse.entities]
    draft = from_message(ctx.text, entities, providers.names)
    if len(providers.names) == 1 and draft.provider is None:
        draft = draft.merge(Draft(provider=providers.names[0]))
    if not providers.names:
        raise UserError("No VM provider is configured here; an admin sets one under `providers:`.")
    await _proceed(ctx, draft, _where(ctx))


async def _proceed(ctx: Context, draft: Draft, where: dict[str, Any]) -> None:
    """Ask for the next missing thing, or restate the whole request with Yes/No."""
    settings = _settings(ctx.app)
    draft = draft.sized(settings)
    refuse_beyond_limits(draft, settings)
    asking = draft.missing()
    data = {"draft": draft.to_dict(), "where": where}
    if asking is not None:
        await ctx.expect(DRAFT, {**data, "asking": asking})
        choices: list[Choice] = []
        if asking == "provider":
            choices = [Choice(n, PROVIDER_ACTION, n) for n in registry(ctx.app).names]
        them = "them" if (draft.count or 1) != 1 else "it"
        await ctx.reply(QUESTIONS[asking].format(them=them), choices=choices)
        return
    reasons = approval_reasons(draft, settings)
    note = (
        f" This needs staff approval ({'; '.join(reasons)}), so I'll file it as a request."
        if reasons
        else ""
    )
    await ctx.expect(CONFIRM, {**data, "do": "create"})
    await ctx.reply(
        f"Create {draft.summary()}?{note}",
        choices=[Choice("Yes", YES_ACTION, style="primary"), Choice("No", NO_ACTION)],
    )


def _takes_answer(ctx: Context) -> bool:
    data = (ctx.state or {}).get("data") or {}
    asking = str(data.get("asking", ""))
    return answer(asking, ctx.text, _provider_names(ctx.app)) is not None


def _provider_names(app: Application) -> list[str]:
    found = app.services.get(PROVIDERS)
    return found.names if found is not None else []


@skill.followup(DRAFT, accepts=_takes_answer, cancelled="OK, no VMs.")
async def answered(ctx: Context) -> None:
    data = dict((ctx.state or {}).get("data") or {})
    got = answer(str(data.get("asking", "")), ctx.text, _provider_names(ctx.app))
    if got is None:  # accepts said yes a moment ago; the providers changed meanwhile
        raise UserError("I didn't get that; say `cancel` to stop.")
    draft = Draft.from_dict(data.get("draft") or {}).merge(got)
    await _proceed(ctx, draft, data.get("where") or _where(ctx))


@skill.action(PROVIDER_ACTION)
async def provider_click(ctx: Context) -> None:
    state = ctx.state or {}
    data = dict(state.get("data") or {})
    if state.get("followup") != DRAFT or data.get("asking") != "provider":
        await ctx.reply_private("That question has expired; ask me again for the VMs.")
        return
    assert ctx.interaction is not None
    draft = Draft.from_dict(data.get("draft") or {}).merge(Draft(provider=ctx.interaction.value))
    await _proceed(ctx, draft, data.get("where") or _where(ctx))


# -- yes / no ------------------------------------------------------------------------------------
@skill.followup(CONFIRM, accepts=is_yes_or_no, cancelled="OK, nothing changed.")
async def confirm_answer(ctx: Context) -> None:
    if said_yes(ctx):
        await _carry_out(ctx)
    else:
        await _drop(ctx)


@skill.action(YES_ACTION)
async def yes_click(ctx: Context) -> None:
    await _carry_out(ctx)


@skill.action(NO_ACTION)
async def no_click(ctx: Context) -> None:
    await _drop(ctx)


def _pending(ctx: Context) -> dict[str, Any] | None:
    state = ctx.state
    if not state or state.get("followup") != CONFIRM:
        return None
    return dict(state.get("data") or {})


async def _drop(ctx: Context) -> None:
    if _pending(ctx) is None:
        await ctx.reply_private("That question has expired; nothing changed.")
        return
    await ctx.done()
    await ctx.reply("OK, nothing changed.")


async def _carry_out(ctx: Context) -> None:
    data = _pending(ctx)
    if data is None:
        await ctx.reply_private("That question has expired; nothing changed. Ask me again.")
        return
    await ctx.done()
    what = data.get("do")
    if what == "create":
        await _create(ctx, Draft.from_dict(data.get("draft") or {}), data.get("where") or {})
    elif what == "release":
        await _release(ctx, str(data.get("vm", "")))
    elif what == "extend":
        await _extend(ctx, str(data.get("vm", "")), int(data.get("days", 0)))


async def _ask(ctx: Context, question: str, data: dict[str, Any]) -> None:
    await ctx.expect(CONFIRM, data)
    await ctx.reply(
        question, choices=[Choice("Yes", YES_ACTION, style="primary"), Choice("No", NO_ACTION)]
    )


# -- creating ------------------------------------------------------------------------------------
async def _create(ctx: Context, draft: Draft, where: dict[str, Any]) -> None:
    settings = _settings(ctx.app)
    refuse_beyond_limits(draft, settings)
    owner = await ctx.db_user()
    reasons = approval_reasons(draft, settings)
    if reasons:
        await _file_for_approval(ctx, owner, draft, reasons)
        return
    providers = registry(ctx.app)
    provider = providers.get(draft.provider or "")
    if not await providers.has_credential(provider, owner.key):
        await _wait_for_credential(ctx.app, owner.key, draft, where, provider.name)
        if not ctx.direct:
            await ctx.reply(
                f"I need your {provider.credential_name} credential first: I sent you a "
                "direct message saying how to store it, and I'll carry on here after that."
            )
        return
    await ctx.reply(f"Creating {draft.summary()}; I'll show the progress here.")
    _start_creating(ctx.app, owner.key, draft, where)


def _start_creating(
    app: Application,
    owner_key: str,
    draft: Draft,
    where: dict[str, Any],
    request_id: int | None = None,
) -> None:
    async def job() -> None:
        await _create_now(app, owner_key, draft, where, request_id)

    app.background.submit(f"vms: create for {owner_key}", job, attempts=1)


async def _owner(owner_key: str) -> User:
    platform, _, platform_id = owner_key.partition(":")
    user = await User.get_or_none(platform=platform, platform_id=platform_id)
    if user is None:
        raise UserError(f"I don't know {owner_key} any more.")
    return user


async def _create_now(
    app: Application,
    owner_key: str,
    draft: Draft,
    where: dict[str, Any],
    request_id: int | None = None,
) -> provision.Outcome | None:
    """Create, showing progress in one message where it was asked (or the owner's DM)."""
    settings = _settings(app)
    owner = await _owner(owner_key)
    dm = not where.get("channel")
    status = StatusMessage(
        app,
        str(where.get("platform") or owner.platform),
        str(where.get("channel") or ""),
        thread=where.get("thread"),
        title=f"Creating {draft.summary()}",
        dm_to=owner_key if dm else None,
    )
    try:
        outcome = await provision.create(
            app,
            registry(app),
            owner,
            draft,
            status,
            actor=owner_key,
            request_id=request_id,
            login_user=settings.login_user,
        )
    except MissingCredential as exc:
        await _wait_for_credential(
            app, owner_key, draft, where, exc.provider, request_id=request_id
        )
        return None
    except UserError as exc:
        await _say(app, owner_key, where, str(exc))
        return None
    await status.finish(f"Done: {len(outcome.created)} of {outcome.wanted} created.")
    await _say(app, owner_key, where, outcome.report(settings.login_user))
    if not outcome.ok and outcome.created:
        log.warning("%s: %s of %s VMs created", owner_key, len(outcome.created), outcome.wanted)
    return outcome


async def _say(app: Application, owner_key: str, where: dict[str, Any], text: str) -> None:
    channel = where.get("channel")
    if channel:
        await app.post(str(where.get("platform")), str(channel), text, thread=where.get("thread"))
    else:
        await app.notify(owner_key, text)


async def _wait_for_credential(
    app: Application,
    owner_key: str,
    draft: Draft,
    where: dict[str, Any],
    provider: str,
    *,
    request_id: int | None = None,
) -> None:
    """Keep the request until the owner stores the credential, and tell them how in a DM."""
    name = registry(app).get(provider).credential_name or provider
    await waiting(app).add(
        owner_key,
        {"draft": draft.to_dict(), "where": where, "provider": provider, "request": request_id},
    )
    await app.notify(owner_key, str(MissingCredential(provider, name)))
    app.audit.record(owner_key, "vm.waiting_for_credential", provider, credential=name)


async def resume_after_storing(ctx: Context, call_next: Next) -> None:
    """After a turn of someone whose VM request waits for a credential: if it is stored now,
    carry on with the request (the vault's own flow is untouched)."""
    await call_next(ctx)
    pending = ctx.app.services.get(WAITING)
    if pending is None or ctx.user_key not in pending.keys:
        return
    entry = await pending.get(ctx.user_key)
    providers = ctx.app.services.get(PROVIDERS)
    if entry is None or providers is None or entry.get("provider") not in providers.names:
        return
    if not await providers.has_credential(providers.get(entry["provider"]), ctx.user_key):
        return
    await pending.remove(ctx.user_key)
    draft = Draft.from_dict(entry.get("draft") or {})
    where = entry.get("where") or {}
    await ctx.app.notify(
        ctx.user_key, f"Thanks — carrying on with your request: {draft.summary()}."
    )
    _start_creating(ctx.app, ctx.user_key, draft, where, entry.get("request"))


async def _file_for_approval(ctx: Context, owner: User, draft: Draft, reasons: list[str]) -> None:
    from bot.workflow import copies
    from bot.workflow.engine import FilingFailed, service

    wf = service(ctx.app)
    spec = wf.types.get("vm")
    if spec is None:
        raise UserError(
            "This needs staff approval, but the `vm` request type is not configured here "
            "(config/workflows/vm.yml); ask for fewer VMs or a shorter time."
        )
    fields = {**draft.to_dict(), "reasons": "; ".join(reasons)}
    try:
        req = await wf.file(spec, fields, owner, channel=ctx.channel)
    except FilingFailed as exc:
        raise UserError(str(exc)) from None
    # filing wrote the card and the approvers' notices to the outbox; send the card now so the
    # answer can say where it is
    where = f" and posted it to #{spec.channel}" if await copies.post_now(wf, req) else ""
    await ctx.reply(
        f"That needs staff approval ({'; '.join(reasons)}), so I filed {req.ref}{where}. "
        "I'll create the VMs once it is approved."
    )


async def provision_vms_action(run: ActionRun) -> ActionResult:
    """``on_enter: approved: [provision_vms]`` of the ``vm`` request type."""
    req = run.request
    requester = req.requester
    assert isinstance(requester, User)
    draft = Draft.from_dict(dict(req.fields_data))
    try:
        outcome = await provision.create(
            run.app,
            registry(run.app),
            requester,
            draft.sized(_settings(run.app)),
            run.progress,
            actor=run.actor.key if run.actor is not None else "workflow",
            request_id=req.id,
            login_user=_settings(run.app).login_user,
        )
    except MissingCredential as exc:
        await _wait_for_credential(
            run.app, requester.key, draft, {}, exc.provider, request_id=req.id
        )
        return ActionResult(
            False,
            f"{requester.name} has no {exc.name} credential stored yet; "
            "I told them how to store one and will create the VMs then.",
        )
    text = outcome.report(_settings(run.app).login_user)
    return ActionResult(
        outcome.ok, text, {"vms": [v.name for v in outcome.created], "wanted": outcome.wanted}
    )


# -- listing and showing -------------------------------------------------------------------------
@skill.command(
    r"(?:list\s+|show\s+)?(?:me\s+)?my\s+(?:vms|virtual\s+machines)\??",
    help="list my vms — your VMs, their addresses and when they expire",
    audit=False,
)
async def list_mine(ctx: Context) -> None:
    await _list(ctx, everyone=False)


@skill.command(
    r"(?:list\s+|show\s+)?(?:me\s+)?(?:all|every(?:one's)?)\s+(?:the\s+)?vms\??",
    checks=[in_group("see_all_resources")],
    help="list all vms — everyone's VMs (staff)",
    audit=False,
)
async def list_all(ctx: Context) -> None:
    await _list(ctx, everyone=True)


@skill.intent("list_resources", when=about_vms)
async def list_intent(ctx: Context) -> None:
    text = ctx.text[:500]
    everyone = _staff(ctx) and re.search(r"\b(?:all|every|everyone)", text, re.I)
    idle = re.search(r"\b(?:idle|unused|doing\s+nothing)\b", text, re.I) is not None
    await _list(ctx, everyone=bool(everyone or (idle and _staff(ctx))), idle=idle)


async def _list(ctx: Context, *, everyone: bool, idle: bool = False) -> None:
    vms = await store.listing(None if everyone else ctx.user_key)
    if idle:
        vms = [v for v in vms if v.idle_since is not None]
        if not vms:
            await ctx.reply(
                "No VMs are idle right now." if everyone else "None of your VMs is idle."
            )
            return
    if not vms:
        await ctx.reply(
            "There are no VMs."
            if everyone
            else 'You have no VMs. Ask me for one: "can I get an ubuntu 22.04 VM for a week?"'
        )
        return
    lines = [f"{'All' if everyone else 'Your'} {'idle ' if idle else ''}VMs ({len(vms)}):"]
    for vm in vms:
        who = f" — {vm.owner_name or vm.owner}" if everyone else ""
        until = f", until {vm.expires_at:%Y-%m-%d}" if vm.expires_at else ""
        address = f", {', '.join(vm.addresses)}" if vm.addresses else ""
        quiet = f", idle since {vm.idle_since:%Y-%m-%d %H:%M}" if idle and vm.idle_since else ""
        lines.append(
            f"• {vm.name}: {vm.describe()} on {vm.provider}, {vm.state}{address}{until}{quiet}{who}"
        )
    await ctx.reply("\n".join(lines))


@skill.command(
    r"(?:show|status\s+of|details\s+of|what(?:'|’)?s\s+up\s+with)\s+" + _VM_NAME + r"\??",
    help="show vm-3 — one VM's state, address, expiry and history",
    audit=False,
)
async def show_command(ctx: Context) -> None:
    assert ctx.match is not None
    await _show(ctx, ctx.match.group("vm"))


@skill.intent("check_status", when=about_vms)
async def status_intent(ctx: Context) -> None:
    name = _vm_entity(ctx)
    if name is None:
        await _list(ctx, everyone=False)
        return
    await _show(ctx, name)


def _vm_entity(ctx: Context) -> str | None:
    value = ctx.entity("resource_id")
    if isinstance(value, str):
        return value
    found = _RESOURCE_VM.search(ctx.text[:500])
    return found.group(0) if found else None


async def _show(ctx: Context, name: str) -> None:
    vm = await store.find(name, ctx.user_key, see_all=_staff(ctx))
    lines = [
        f"{vm.name} — {vm.describe()} on {vm.provider}: {vm.state}",
        f"Owner: {vm.owner_name or vm.owner}",
    ]
    if vm.addresses:
        login = provision.login_hint(vm, _settings(ctx.app).login_user)
        lines.append(f"Address: {', '.join(vm.addresses)} — {login}")
    if vm.created:
        lines.append(f"Created: {vm.created:%Y-%m-%d %H:%M} UTC")
    if vm.expires_at:
        lines.append(f"Expires: {vm.expires_at:%Y-%m-%d %H:%M} UTC")
    if vm.request:
        lines.append(f"Request: {vm.request}")
    await ctx.reply("\n".join(lines))


# -- releasing -----------------------------------------------------------------------------------
@skill.command(
    r"(?:release|delete|destroy|remove|terminate)\s+" + _VM_NAME,
    help="release vm-3 — delete a VM you no longer need (I ask first)",
)
async def release_command(ctx: Context) -> None:
    assert ctx.match is not None
    await _offer_release(ctx, ctx.match.group("vm"))


@skill.intent("release_resource", when=about_vms)
async def release_intent(ctx: Context) -> None:
    name = _vm_entity(ctx)
    if name is None:
        raise UserError("Which VM? Say for example `release vm-3` (`list my vms` shows yours).")
    if unsure(ctx.text):
        await ctx.reply(
            f"I won't act on a question or a maybe, so nothing changed. Say `release {name}` "
            "when you've decided."
        )
        return
    await _offer_release(ctx, name)


async def _offer_release(ctx: Context, name: str) -> None:
    vm = await store.find(name, ctx.user_key, see_all=_staff(ctx))
    store.check_owner(vm, ctx.user_key, staff=_staff(ctx))
    _releasable(vm)
    whose = "" if vm.owner == ctx.user_key else f" of {vm.owner_name or vm.owner}"
    await _ask(
        ctx,
        f"Delete {vm.name}{whose} ({vm.describe()}, {', '.join(vm.addresses) or 'no address'})? "
        "Everything on it is lost.",
        {"do": "release", "vm": vm.name},
    )


def _releasable(vm: store.Vm) -> None:
    if vm.state == store.CREATING:
        raise UserError(f"{vm.name} is still being created; release it once it is ready.")
    if not vm.live:
        raise UserError(f"{vm.name} is already {vm.state}.")


async def _release(ctx: Context, name: str) -> None:
    vm = await store.find(name, ctx.user_key, see_all=_staff(ctx))
    store.check_owner(vm, ctx.user_key, staff=_staff(ctx))
    _releasable(vm)
    tell = f"{ctx.user_name} deleted your VM {vm.name}." if vm.owner != ctx.user_key else ""
    await provision.delete(ctx.app, registry(ctx.app), vm, actor=ctx.user_key, tell_owner=tell)
    await ctx.reply(f"Deleted {vm.name}. Thanks for giving it back.")


# -- extending -----------------------------------------------------------------------------------
@skill.command(
    r"extend\s+" + _VM_NAME + r"\s+(?:by|for)\s+(?P<duration>[\w .]{1,40})",
    help="extend vm-3 by 2 weeks — keep a VM longer (approval beyond the policy)",
    examples=("extend vm-3 by 2 weeks", "extend vm-3 for 10 days"),
)
async def extend_command(ctx: Context) -> None:
    assert ctx.match is not None
    days = _days(ctx.match.group("duration"))
    await _extend(ctx, ctx.match.group("vm"), days)


def _days(text: str) -> int:
    from nlu.normalise import parse_duration

    days = days_of(parse_duration(text.strip()))
    if days is None:
        raise UserError(
            f"{text.strip()[:40]!r} isn't a duration I understand — say 2 weeks or 10 days."
        )
    return days


@skill.intent("extend_loan", when=about_vms)
async def extend_intent(ctx: Context) -> None:
    name = _vm_entity(ctx)
    duration = ctx.entity("duration")
    if name is None or not isinstance(duration, str):
        raise UserError("Which VM, and for how long? Say for example `extend vm-3 by 2 weeks`.")
    days = days_of(duration)
    if days is None:
        raise UserError("For how long? Say for example `extend vm-3 by 2 weeks`.")
    if unsure(ctx.text):
        await ctx.reply(
            "I won't act on a question or a maybe, so nothing changed. Say "
            f"`extend {name} by {days} days` when you've decided."
        )
        return
    vm = await store.find(name, ctx.user_key, see_all=_staff(ctx))
    await _ask(
        ctx,
        f"Extend {vm.name} ({vm.describe()}) by {days_text(days)}?",
        {"do": "extend", "vm": vm.name, "days": days},
    )


async def _extend(ctx: Context, name: str, days: int) -> None:
    settings = _settings(ctx.app)
    vm = await store.find(name, ctx.user_key, see_all=_staff(ctx))
    store.check_owner(vm, ctx.user_key, staff=_staff(ctx))
    if not vm.live:
        raise UserError(f"{vm.name} is {vm.state}; there is nothing to extend.")
    if days > settings.hard_max_days:
        raise UserError(f"VMs are lent for at most {settings.hard_max_days} days.")
    now = ctx.app.clock.now()
    start = max(vm.expires_at or now, now)
    until = start + timedelta(days=days)
    reason = extension_needs_approval((until - now).total_seconds() / 86400, settings)
    if reason is not None and not _staff(ctx):
        await _file_extension(ctx, vm, days, reason)
        return
    vm = await provision.extend(ctx.app, registry(ctx.app), vm, until, actor=ctx.user_key)
    await ctx.reply(
        f"Extended {vm.name} by {days_text(days)}: it now runs until {until:%Y-%m-%d %H:%M} UTC."
    )


async def _file_extension(ctx: Context, vm: store.Vm, days: int, reason: str) -> None:
    from bot.workflow import copies
    from bot.workflow.engine import FilingFailed, service

    wf = service(ctx.app)
    spec = wf.types.get("vm_extension")
    if spec is None:
        raise UserError(
            f"Extending {vm.name} that far needs approval ({reason}), but the "
            "`vm_extension` request type is not configured here; ask for less."
        )
    owner = await ctx.db_user()
    try:
        req = await wf.file(spec, {"vm": vm.name, "days": days}, owner, channel=ctx.channel)
    except FilingFailed as exc:
        raise UserError(str(exc)) from None
    # filing wrote the card and the approvers' notices to the outbox; send the card now so the
    # answer can say where it is
    where = f" and posted it to #{spec.channel}" if await copies.post_now(wf, req) else ""
    await ctx.reply(
        f"That needs staff approval ({reason}), so I filed {req.ref}{where}. "
        f"I'll extend {vm.name} once it is approved."
    )


async def extend_vm_action(run: ActionRun) -> ActionResult:
    """``on_enter: approved: [extend_vm]`` of the ``vm_extension`` request type."""
    fields = dict(run.request.fields_data)
    number = store.parse_name(str(fields.get("vm", "")))
    vm = await store.get(number) if number is not None else None
    if vm is None or not vm.live:
        return ActionResult(False, f"{fields.get('vm')} no longer exists.")
    now = run.app.clock.now()
    until = max(vm.expires_at or now, now) + timedelta(days=int(fields.get("days", 0)))
    actor = run.actor.key if run.actor is not None else "workflow"
    try:
        await provision.extend(run.app, registry(run.app), vm, until, actor=actor)
    except UserError as exc:
        return ActionResult(False, str(exc))
    return ActionResult(True, f"{vm.name} now runs until {until:%Y-%m-%d %H:%M} UTC.")


# -- buttons of the observers' messages ----------------------------------------------------------
@skill.action(EXTEND_ACTION)
async def extend_click(ctx: Context) -> None:
    assert ctx.interaction is not None
    await _extend(ctx, ctx.interaction.value, 7)


@skill.action(RELEASE_ACTION)
async def release_click(ctx: Context) -> None:
    assert ctx.interaction is not None
    await _offer_release(ctx, ctx.interaction.value)


@skill.action(KEEP_ACTION)
async def keep_click(ctx: Context) -> None:
    assert ctx.interaction is not None
    vm = await store.find(ctx.interaction.value, ctx.user_key, see_all=_staff(ctx))
    days = _observer_days(ctx.app)
    await ctx.app.observers.snooze(
        "vm-idle", f"vm:{vm.id}", ctx.app.clock.now() + timedelta(days=days)
    )
    await ctx.reply(f"OK, keeping {vm.name}; I won't mention it being idle for {days:g} days.")


@skill.action(SNOOZE_ACTION)
async def snooze_click(ctx: Context) -> None:
    assert ctx.interaction is not None
    from skills._resources.settings import observer_settings

    vm = await store.find(ctx.interaction.value, ctx.user_key, see_all=_staff(ctx))
    hours = observer_settings(ctx.app.settings).idle.snooze_hours
    await ctx.app.observers.snooze(
        "vm-idle", f"vm:{vm.id}", ctx.app.clock.now() + timedelta(hours=hours)
    )
    await ctx.reply(f"Snoozed: I'll look at {vm.name} again in {hours:g} hours.")


def _observer_days(app: Application) -> float:
    from skills._resources.settings import observer_settings

    return observer_settings(app.settings).idle.keep_days
