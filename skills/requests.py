"""Helpdesk requests from chat: ask, file, approve, deny, complete, edit, search and count.

Plain language goes through the NLU intents (request_quota, request_software, extend_walltime,
approve_request, deny_request, check_status, list_resources, stats, release_resource); every
step also has a command form that works without the language model ("request quota",
"approve REQ-12", "deny REQ-12 storage is full", "status of REQ-12"). The logic lives in
``bot.workflow``; this module only maps chat to it.
"""

from __future__ import annotations

import re
from typing import Any

from bot.app import Application
from bot.context import Context
from bot.errors import UserError
from bot.skill import Skill
from bot.storage.models import Request, RequestEvent
from bot.workflow import dialogue
from bot.workflow.draft import Requester
from bot.workflow.engine import WORKFLOWS, Workflows, parse_ref, service
from bot.workflow.fields import FieldError, display, parse_answer
from bot.workflow.reminders import expire_drafts, remind_stalled
from bot.workflow.render import TRANSITION_ACTION

skill = Skill("requests", "Helpdesk requests: quota, software, walltime, accounts; approvals.")

REF = r"(?P<ref>(?:REQ[-_ ]?#?|#)\d{1,9})"
COMMENT_FOLLOWUP = "workflow.comment"
_SIZE_IN_TEXT = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?\s?(?:[kmgtp]i?b|[tgp])\b", re.IGNORECASE)
_PATH_IN_TEXT = re.compile(r"(?<!\S)(/[^\s,;]+|\$[A-Z_]+\S*)")
_PAIR = re.compile(r"(?P<key>[a-z_]+)\s*[=:]\s*(?P<value>\"[^\"]*\"|\S+)", re.IGNORECASE)


def wf_of(ctx: Context) -> Workflows:
    return service(ctx.app)


@skill.setup
async def setup(app: Application) -> None:
    """(Re)read the request types on load and on every `reload skills`."""
    app.services[WORKFLOWS] = Workflows.from_app(app)


# -- helpers -----------------------------------------------------------------------------------
def _user_id(word: str) -> str:
    word = word.strip()
    m = re.fullmatch(r"<@([\w.-]+)(?:\|[^>]*)?>", word)
    return m.group(1) if m else word.lstrip("@")


async def _transition(ctx: Context, ref: str | int, word: str, comment: str = "") -> None:
    wf = wf_of(ctx)
    req = await wf.get(ref)
    spec = wf.spec_of(req)
    name = spec.find_transition(word)
    if name is None:
        possible = ", ".join(n for n, _ in spec.transitions_from(req.state)) or "nothing"
        raise UserError(f"{req.ref} ({spec.title}) can't be {word!r}-ed. Possible now: "
                        f"{possible}.")
    tr = spec.transitions[name]
    if tr.comment == "required" and not comment.strip():
        decision = wf.decide(req, spec, name, ctx.user_key)
        if not decision.allowed:
            await ctx.reply_private(decision.reason)
            return
        await ctx.expect(COMMENT_FOLLOWUP, {"id": req.id, "transition": name})
        await ctx.reply(f"Why should {req.ref} be {tr.past}? Your reason goes to the requester "
                        "(or say `cancel`).")
        return
    actor = await ctx.db_user()
    try:
        await wf.transition(req, name, actor, comment.strip())
    except UserError as exc:
        await ctx.reply_private(str(exc))
        return
    await ctx.reply(f"{req.ref} is now {spec.state_label(req.state)} ({tr.past} by you).")


def _prefill_from_text(ctx: Context, text: str) -> dict[str, list[Any]]:
    """Entities from the command form: key=value pairs, a size and a path anywhere."""
    found: dict[str, list[Any]] = {}
    for m in _PAIR.finditer(text):
        found.setdefault(f"={m.group('key').lower()}", []).append(m.group("value").strip('"'))
    text = _PAIR.sub(" ", text)
    size = _SIZE_IN_TEXT.search(text)
    if size:
        found["~size"] = [size.group(0)]
    path = _PATH_IN_TEXT.search(text)
    if path:
        found["~path"] = [path.group(1)]
    return found


async def _start(ctx: Context, type_word: str | None, entities: dict[str, list[Any]],
                 raw: dict[str, list[Any]] | None = None, behalf: str | None = None,
                 intent: str | None = None) -> None:
    wf = wf_of(ctx)
    spec = None
    if intent:
        spec = wf.type_for_intent(intent, ctx.text)
    elif type_word:
        spec = wf.type_named(type_word)
    if spec is None:
        names = ", ".join(sorted(wf.types))
        raise UserError(f"I don't know a {type_word or 'request'} request. I can file: {names} "
                        "(say e.g. `request quota`).")
    requester = None
    if behalf:
        if not ctx.has_role("helpdesk"):
            raise UserError("Only helpdesk staff can file a request for someone else.")
        uid = _user_id(behalf)
        info = await ctx.adapter.user_info(uid)
        requester = Requester(ctx.platform, uid, info.name or uid)
    draft, problems = dialogue.prefill(spec, dialogue.new_draft(spec, requester=requester),
                                       entities, ctx.event.time)
    for key, values in (raw or {}).items():   # command form: typed by the field's own parser
        for name, field in spec.fields.items():
            hit = key == f"={name}" or (key == f"~{field.type}" and name not in draft.fields)
            if not hit:
                continue
            try:
                draft = draft.with_field(name, parse_answer(field, str(values[0]),
                                                            ctx.event.time))
            except FieldError as exc:
                problems.append(str(exc))
            break
    intro = f"Let's file a {(spec.title or spec.name).lower()} request"
    intro += f" for {requester.name}." if requester else "."
    if problems:
        intro += " " + " ".join(problems)
    await dialogue.proceed(ctx, spec, draft, intro)


def _entities(ctx: Context) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for ent in ctx.parse.entities if ctx.parse else ():
        out.setdefault(ent.entity, []).append(ent.value)
    return out


async def _line(wf: Workflows, req: Request) -> str:
    spec = wf.types.get(req.type)
    if spec is None:
        return f"• {req.ref} {req.type} — {req.state}"
    return f"• {req.ref} {wf.describe(req, spec)} — {spec.state_label(req.state)}"


# -- commands ----------------------------------------------------------------------------------
@skill.command(r"(?:what(?:'|’)?s\s+the\s+)?(?:status|state|show|details?)\s+(?:of\s+|for\s+|on\s+)?"
               + REF + r"\??|" + REF.replace("ref", "ref2") + r"\??",
               help="status of REQ-12 — a request's fields, state and history")
async def status(ctx: Context) -> None:
    assert ctx.match is not None
    await _status(ctx, ctx.match.group("ref") or ctx.match.group("ref2"))


async def _status(ctx: Context, ref: str) -> None:
    wf = wf_of(ctx)
    req = await wf.get(ref)
    text, _ = await wf.render(req)
    lines = [text, "History:"]
    for ev in await RequestEvent.filter(request_id=req.id).order_by("id").prefetch_related(
            "actor"):
        who = ev.actor.name if ev.actor else "the bot"
        when = ev.created_at.strftime("%Y-%m-%d %H:%M") if ev.created_at else ""
        lines.append(f"  {when} {ev.action} by {who}" + (f": {ev.comment}" if ev.comment else ""))
    await ctx.reply("\n".join(lines))


@skill.command(r"(?:list\s+|show\s+)?my\s+(?P<open>open\s+|pending\s+)?requests\??",
               help="list my open requests — requests you filed or that were filed for you")
async def my_requests(ctx: Context) -> None:
    await _mine(ctx, open_only=True)


async def _mine(ctx: Context, open_only: bool) -> None:
    wf = wf_of(ctx)
    me = await ctx.db_user()
    qs = Request.filter(requester_id=me.id, deleted=False)
    if open_only:
        qs = qs.filter(closed_at=None)
    rows = await qs.order_by("-id").limit(50)
    if not rows:
        await ctx.reply("You have no open requests. Say e.g. `request quota` to file one.")
        return
    lines = ["Your open requests:"] + [await _line(wf, r) for r in rows]
    await ctx.reply("\n".join(lines))


@skill.command(r"(?:what(?:'|’)?s|what\s+is|anything)\s+waiting\s+(?:for|on)\s+(?:my\s+approval|me)"
               r"\??|(?:my\s+)?pending\s+approvals\??|(?:list\s+)?requests\s+waiting\s+for\s+me\??",
               help="what's waiting for my approval — requests you can move now")
async def waiting(ctx: Context) -> None:
    await _waiting(ctx)


async def _waiting(ctx: Context, quiet: bool = False) -> None:
    wf = wf_of(ctx)
    rows = []
    for req in await Request.filter(deleted=False, closed_at=None).order_by("id").limit(1000
                                                                                    ).prefetch_related("requester"):
        spec = wf.types.get(req.type)
        if spec is None:
            continue
        moves = [n for n, t in spec.transitions_from(req.state)
                 if not all(r.requester and not r.roles and not r.users for r in t.allow)
                 and wf.decide(req, spec, n, ctx.user_key).allowed]
        if moves and req.requester.key != ctx.user_key:
            rows.append(f"{await _line(wf, req)} (you can: {', '.join(moves)})")
    if not rows:
        if not quiet:
            await ctx.reply("Nothing is waiting for you.")
        return
    await ctx.reply("Waiting for you:\n" + "\n".join(rows[:50]))


@skill.command(r"(?:search|find)\s+requests?\s+(?P<query>.+)",
               help="search requests type:quota state:submitted size>5TB requester:alice — "
                    "find requests by any field, state, requester or assignee")
async def search(ctx: Context) -> None:
    from bot.workflow import search as wsearch  # here, not at start-up: only used here

    assert ctx.match is not None
    wf = wf_of(ctx)
    query = wsearch.parse_query(ctx.match.group("query"), ctx.user_key)
    if not ctx.has_role("helpdesk") and not ctx.has_role("staff"):
        query.requester = ctx.user_key        # researchers search their own requests
    found = await wsearch.search(wf.types, query)
    if not found:
        await ctx.reply("No request matches that.")
        return
    lines = [f"{len(found)} request(s):"] + [await _line(wf, r) for r in found[:30]]
    if len(found) > 30:
        lines.append(f"… and {len(found) - 30} more (`quartermaster requests export --csv` "
                     "gives all).")
    await ctx.reply("\n".join(lines))


@skill.command(r"(?:request|requests)\s+(?:stats|statistics)(?:\s+(?:for|over|in)?\s*(?P<period>.+))?",
               help="request stats [last 30 days] — counts and time to complete (staff)")
async def stats(ctx: Context) -> None:
    period = ctx.match.group("period") if ctx.match else None
    await _stats(ctx, period)


STATS_ROLES = ("helpdesk", "staff", "management", "operator")


async def _stats(ctx: Context, period_text: str | None) -> None:
    from bot.workflow import stats as wstats  # here, not at start-up: only used here

    if not any(ctx.has_role(r) for r in STATS_ROLES):
        await ctx.reply_private("Request statistics are for helpdesk, staff, management and "
                                f"operators; you have: {', '.join(sorted(ctx.roles))}.")
        return
    try:
        period = wstats.parse_period(period_text)
    except ValueError as exc:
        raise UserError(f"{exc}.") from None
    wf = wf_of(ctx)
    result = await wstats.compute(wf.types, period)
    await ctx.reply(wstats.report(result, wf.types))


@skill.command(r"request\s+types|what\s+can\s+i\s+request\??",
               help="request types — what kinds of request I can file")
async def request_types(ctx: Context) -> None:
    wf = wf_of(ctx)
    lines = ["I can file these requests (say `request <name>`):"]
    lines += [f"• {name} — {spec.description or spec.title}" for name, spec in wf.types.items()]
    await ctx.reply("\n".join(lines))


@skill.command(r"edit\s+" + REF + r"\s+(?:set\s+)?(?P<changes>.+)",
               help="edit REQ-12 size=8TB — change a field (requester or staff)")
async def edit(ctx: Context) -> None:
    assert ctx.match is not None
    wf = wf_of(ctx)
    req = await wf.get(ctx.match.group("ref"))
    spec = wf.spec_of(req)
    text = ctx.match.group("changes")
    pairs = [(m.group("key"), m.group("value").strip('"')) for m in _PAIR.finditer(text)]
    if not pairs:
        m = re.fullmatch(r"(?P<key>[a-z_ ]+?)\s+(?:to\s+|=\s*)?(?P<value>\S.*)", text.strip(),
                         re.IGNORECASE)
        pairs = [(m.group("key"), m.group("value"))] if m else []
    changes: dict[str, Any] = {}
    for key, value in pairs:
        name = key.strip().lower().replace(" ", "_")
        field = spec.fields.get(name)
        if field is None:
            raise UserError(f"{spec.title} has no field {key!r}. Fields: "
                            f"{', '.join(spec.fields)}.")
        try:
            changes[name] = parse_answer(field, value, ctx.event.time)
        except FieldError as exc:
            raise UserError(str(exc)) from None
    if not changes:
        raise UserError("Say what to change, for example `edit REQ-12 size=8TB`.")
    await wf.edit(req, changes, await ctx.db_user())
    shown = ", ".join(f"{spec.fields[k].label} = {display(spec.fields[k], v)}"
                      for k, v in changes.items())
    await ctx.reply(f"Updated {req.ref}: {shown}.")


@skill.command(r"delete\s+" + REF + r"(?:\s+(?P<comment>.+))?",
               help="delete REQ-12 — remove a request (requester or staff); history is kept")
async def delete(ctx: Context) -> None:
    assert ctx.match is not None
    wf = wf_of(ctx)
    req = await wf.get(ctx.match.group("ref"))
    await wf.delete(req, await ctx.db_user(), ctx.match.group("comment") or "")
    await ctx.reply(f"Deleted {req.ref}; its posted copies are removed and its history is kept.")


@skill.command(r"comment\s+(?:on\s+)?" + REF + r"\s*[:,-]?\s+(?P<comment>.+)",
               help="comment REQ-12 TEXT — add a note to a request's history")
async def comment(ctx: Context) -> None:
    assert ctx.match is not None
    wf = wf_of(ctx)
    req = await wf.get(ctx.match.group("ref"))
    spec = wf.spec_of(req)
    if not wf.may_edit(req, ctx.user_key) and not ctx.has_role("helpdesk"):
        raise UserError(f"Only the requester, helpdesk or staff can comment on {req.ref}.")
    await RequestEvent.create(request=req, actor=await ctx.db_user(), action="commented",
                              from_state=req.state, to_state=req.state,
                              comment=ctx.match.group("comment"))
    await wf.refresh(req)
    await ctx.reply(f"Noted on {req.ref} ({spec.state_label(req.state)}).")


@skill.command(r"(?:assign|give)\s+" + REF + r"\s+to\s+(?P<who>me|<@[\w.|-]+>|@?[\w.:-]+)"
               r"|(?:i(?:'|’)?ll\s+)?take\s+" + REF.replace("ref", "take"),
               help="assign REQ-12 to @sam (or: take REQ-12) — say who works on a request")
async def assign(ctx: Context) -> None:
    assert ctx.match is not None
    if not any(ctx.has_role(r) for r in ("helpdesk", "staff", "management", "operator")):
        raise UserError("Only helpdesk, staff, management or operators assign requests.")
    wf = wf_of(ctx)
    req = await wf.get(ctx.match.group("ref") or ctx.match.group("take"))
    who = ctx.match.group("who") or "me"
    if who == "me":
        subject = ctx.user_key
    else:
        uid = _user_id(who)
        subject = uid if ":" in uid else f"{ctx.platform}:{uid}"
    await wf.assign(req, subject, await ctx.db_user())
    shown = "you" if subject == ctx.user_key else wf.mention(subject)
    await ctx.reply(f"{req.ref} is now assigned to {shown}.")


@skill.command(r"(?P<verb>[a-z][\w-]*)\s+" + REF
               + r"(?:\s*[:,-]?\s+(?:because\s+)?(?P<comment>.+))?",
               help="approve|deny|complete|cancel REQ-12 [reason] — move a request")
async def move(ctx: Context) -> None:
    assert ctx.match is not None
    await _transition(ctx, ctx.match.group("ref"), ctx.match.group("verb"),
                      ctx.match.group("comment") or "")


@skill.command(r"(?:please\s+)?(?:new\s+|file\s+(?:an?\s+)?|open\s+(?:an?\s+)?|i\s+(?:want|need)\s+to\s+)?"
               r"request\s+(?:an?\s+|for\s+an?\s+)?(?P<type>[\w-]+)(?:\s+request)?"
               r"(?:\s+(?:for|on\s+behalf\s+of)\s+(?P<behalf><@[\w.|-]+>|@[\w.-]+))?"
               r"(?P<rest>(?:\s+.*)?)",
               help="request quota|software|walltime|account [size=8TB …] [for @user] — "
                    "file a request; I ask for what's missing")
async def request(ctx: Context) -> None:
    assert ctx.match is not None
    state = ctx.state or {}
    if state.get("followup") == dialogue.FOLLOWUP and wf_of(ctx).type_named(
            ctx.match.group("type")) is None:
        await dialogue.answer(ctx, wf_of(ctx), ctx.text)   # an answer that starts "request…"
        return
    raw = _prefill_from_text(ctx, ctx.match.group("rest") or "")
    await _start(ctx, ctx.match.group("type"), {}, raw, behalf=ctx.match.group("behalf"))


# -- intents (plain language, when the NLU is available) -----------------------------------------
@skill.intent("request_quota", help="ask for more storage — e.g. \"I need 8TB more on "
                                    "/scratch/group/neuro\"")
@skill.intent("request_software")
@skill.intent("extend_walltime")
async def new_request(ctx: Context) -> None:
    await _start(ctx, None, _entities(ctx), intent=ctx.intent)


def _ref_entity(ctx: Context) -> str | None:
    value = ctx.entity("request_id")
    if value is None:
        m = re.search(r"(?:REQ[-_ ]?#?|#)(\d{1,9})", ctx.text, re.IGNORECASE)
        value = f"REQ-{m.group(1)}" if m else None
    return value


@skill.intent("approve_request")
@skill.intent("deny_request")
async def approve_or_deny(ctx: Context) -> None:
    ref = _ref_entity(ctx)
    verb = "approve" if ctx.intent == "approve_request" else "deny"
    if ref is None:
        raise UserError(f"Which request? Say for example `{verb} REQ-12`.")
    comment = ""
    if verb == "deny":
        spans = [e for e in ctx.parse.entities if e.entity == "request_id"] if ctx.parse else []
        if spans:
            comment = ctx.text[spans[0].end:].strip(" :,-.")
            comment = re.sub(r"^(?:because|as|since)\s+", "", comment, flags=re.IGNORECASE)
    await _transition(ctx, ref, verb, comment)


@skill.intent("check_status")
async def check_status(ctx: Context) -> None:
    ref = _ref_entity(ctx)
    if ref is None:
        await _mine(ctx, open_only=True)
        return
    await _status(ctx, ref)


@skill.intent("list_resources")
async def list_requests(ctx: Context) -> None:
    await _mine(ctx, open_only=True)
    await _waiting(ctx, quiet=True)


@skill.intent("stats")
async def stats_intent(ctx: Context) -> None:
    await _stats(ctx, None)


@skill.intent("release_resource")
async def release(ctx: Context) -> None:
    ref = _ref_entity(ctx)
    if ref is None or parse_ref(ref) is None:
        raise UserError("Which request should I cancel? Say for example `cancel REQ-12`.")
    await _transition(ctx, ref, "cancel")


# -- dialogue and buttons ----------------------------------------------------------------------
@skill.followup(dialogue.FOLLOWUP)
async def answer(ctx: Context) -> None:
    await dialogue.answer(ctx, wf_of(ctx), ctx.text)


def _own_draft(ctx: Context, key: str) -> bool:
    return key.rsplit(":", 1)[-1] == ctx.user_id and ctx.platform == key.split(":", 1)[0]


async def _with_draft(ctx: Context, key: str) -> dict[str, Any] | None:
    if not _own_draft(ctx, key):
        await ctx.reply_private("That question was for someone else.")
        return None
    state = ctx.app.conversations.peek(key)
    if state is None or state.get("followup") != dialogue.FOLLOWUP:
        await ctx.reply_private("That draft has expired or was already handled; ask me again "
                                "to start over.")
        return None
    return state


@skill.action(dialogue.ANSWER_ACTION)
async def answer_click(ctx: Context) -> None:
    key, _, value = ctx.interaction.value.rpartition("|")
    if await _with_draft(ctx, key) is None:
        return
    await _in_conversation(ctx, key, value)


@skill.action(dialogue.CONFIRM_ACTION)
async def confirm_click(ctx: Context) -> None:
    key = ctx.interaction.value
    if await _with_draft(ctx, key) is None:
        return
    await _in_conversation(ctx, key, "yes")


@skill.action(dialogue.DISCARD_ACTION)
async def discard_click(ctx: Context) -> None:
    key = ctx.interaction.value
    if await _with_draft(ctx, key) is None:
        return
    await ctx.app.conversations.clear(key)
    await ctx.reply("OK, I've discarded it. Nothing was filed.")


async def _in_conversation(ctx: Context, key: str, text: str) -> None:
    """Answer a draft from a click, whose thread may differ from the conversation's."""
    from bot.events import Message

    head, thread, user = key.rsplit(":", 2)
    platform, _, channel = head.partition(":")
    msg = Message(platform, user, ctx.user_name, channel, text, direct=ctx.direct,
                  thread=thread or None, time=ctx.event.time)
    from bot.context import Context as Ctx

    inner = Ctx(ctx.app, ctx.adapter, msg)
    await dialogue.answer(inner, wf_of(ctx), text)


@skill.action(TRANSITION_ACTION)
async def transition_click(ctx: Context) -> None:
    raw_id, _, name = ctx.interaction.value.partition(":")
    if not raw_id.isdigit():
        await ctx.reply_private("That button is broken; say `status of REQ-<n>` instead.")
        return
    await _transition(ctx, int(raw_id), name)


@skill.followup(COMMENT_FOLLOWUP)
async def transition_comment(ctx: Context) -> None:
    data = (ctx.state or {}).get("data") or {}
    text = ctx.text.strip()
    if not text:
        await ctx.reply("Please give a reason (or say `cancel`).")
        return
    await ctx.done()
    await _transition(ctx, int(data["id"]), str(data["transition"]), text)


# -- schedules -----------------------------------------------------------------------------------
@skill.schedule(seconds=60, name="reminders")
async def reminders(app: Application) -> None:
    """Remind responsible people of stalled steps; tell people their draft expired."""
    wf = app.services.get(WORKFLOWS)
    if isinstance(wf, Workflows):
        await remind_stalled(app, wf)
    await expire_drafts(app)
