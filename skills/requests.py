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

from bot import bounds
from bot.app import Application
from bot.checks import in_group
from bot.context import Context
from bot.errors import PermissionDenied, UserError
from bot.scope import SkillScope
from bot.skill import Skill
from bot.storage.models import User
from bot.workflow import chat, dialogue
from bot.workflow.chat import COMMENT_FOLLOWUP, PAIR, REF
from bot.workflow.engine import WORKFLOWS, Workflows, parse_ref, service
from bot.workflow.fields import FieldError, display, parse_answer
from bot.workflow.hooks import interrupted_before, sweep_interrupted
from bot.workflow.reminders import expire_drafts, remind_stalled
from bot.workflow.render import TRANSITION_ACTION

skill = Skill("requests", "Helpdesk requests: quota, software, walltime, accounts; approvals.")

#: assigning requests and their statistics
HANDLERS = in_group("request_handlers")
#: searching everyone's requests (the others search their own)
SEE_ALL = in_group("see_all_requests")


@skill.setup
async def setup(scope: SkillScope) -> None:
    """(Re)read the request types on load and on every `reload skills`; report actions a dead
    process left half done."""
    wf = Workflows.from_app(scope.app)
    scope.provide(WORKFLOWS, wf)
    # what a dead process left half done is said at once (one query when there is nothing)
    await sweep_interrupted(wf, started_before=interrupted_before(scope.app))


# -- commands ----------------------------------------------------------------------------------
@skill.command(
    r"(?:what(?:'|’)?s\s+the\s+)?(?:status|state|show|details?)\s+(?:of\s+|for\s+|on\s+)?"
    + REF
    + r"\??|"
    + REF.replace("ref", "ref2")
    + r"\??",
    help="status of REQ-12 — a request's fields, state and history",
)
async def status(ctx: Context) -> None:
    assert ctx.match is not None
    await chat.show_status(ctx, ctx.match.group("ref") or ctx.match.group("ref2"))


@skill.command(
    r"(?:show\s+(?:me\s+)?)?(?:the\s+)?(?:history|log|audit\s+trail)\s+(?:of\s+|for\s+|on\s+)?"
    + REF
    + r"(?:,?\s+page\s+(?P<page>\d{1,6}))?\??",
    help="history of REQ-12 [page 2] — who did what and when, with comments, newest page first",
    examples=("history of REQ-12", "history REQ-12", "history REQ-12 page 2"),
    audit=False,
)
async def history(ctx: Context) -> None:
    assert ctx.match is not None
    page = ctx.match.group("page")
    await chat.show_history(ctx, ctx.match.group("ref"), int(page) if page else 1)


@skill.command(
    r"(?:list\s+|show\s+)?my\s+(?P<open>open\s+|pending\s+)?requests\??",
    help="list my open requests — requests you filed or that were filed for you",
)
async def my_requests(ctx: Context) -> None:
    await chat.mine(ctx, open_only=True)


@skill.command(
    r"(?:what(?:'|’)?s|what\s+is|anything)\s+waiting\s+(?:for|on)\s+(?:my\s+approval|me)"
    r"\??|(?:my\s+)?pending\s+approvals\??|(?:list\s+)?requests\s+waiting\s+for\s+me\??",
    help="what's waiting for my approval — requests you can move now",
)
async def waiting(ctx: Context) -> None:
    await chat.waiting_for(ctx)


@skill.command(
    r"(?:search|find)\s+requests?\s+(?P<query>.+)",
    help="search requests type:quota state:submitted size>5TB requester:alice — "
    "find requests by any field, state, requester or assignee",
)
async def search(ctx: Context) -> None:
    from bot.workflow import search as wsearch  # here, not at start-up: only used here

    assert ctx.match is not None
    wf = service(ctx.app)
    text = ctx.match.group("query")
    if len(text) > MAX_QUERY:
        raise UserError(
            f"A search can be at most {MAX_QUERY} characters (yours has {len(text):,}): "
            "a few words and filters like `type:quota state:submitted size>5TB`."
        )
    query = wsearch.parse_query(text, ctx.user_key)
    if not SEE_ALL(ctx):
        query.requester = ctx.user_key  # the others search their own requests
    found = await wsearch.search(wf.types, query)
    if not found:
        await ctx.reply("No request matches that.")
        return
    lines = [f"{len(found)} request(s):"] + [await chat.line(wf, r) for r in found[:30]]
    if len(found) > 30:
        lines.append(
            f"… and {len(found) - 30} more (`quartermaster requests export --csv` gives all)."
        )
    await ctx.reply("\n".join(bounds.fitted(lines)))


MAX_QUERY = 500  # characters of a search: every word is matched against every request


@skill.command(
    r"(?:request|requests)\s+(?:stats|statistics)(?:\s+(?:for|over|in)?\s*(?P<period>.+))?",
    checks=[HANDLERS],
    help="request stats [last 30 days] — counts and time to complete",
)
async def stats(ctx: Context) -> None:
    await chat.show_stats(ctx, ctx.match.group("period") if ctx.match else None)


@skill.command(
    r"request\s+types|what\s+can\s+i\s+request\??",
    help="request types — what kinds of request I can file",
)
async def request_types(ctx: Context) -> None:
    wf = service(ctx.app)
    lines = ["I can file these requests (say `request <name>`):"]
    lines += [f"• {name} — {spec.description or spec.title}" for name, spec in wf.types.items()]
    await ctx.reply("\n".join(lines))


@skill.command(
    r"edit\s+" + REF + r"\s+(?:set\s+)?(?P<changes>.+)",
    help="edit REQ-12 size=8TB — change a field (requester or staff)",
)
async def edit(ctx: Context) -> None:
    assert ctx.match is not None
    wf = service(ctx.app)
    req = await wf.get(chat.checked(ctx.match.group("ref")))
    spec = wf.spec_of(req)
    text = ctx.match.group("changes")
    pairs = [(m.group("key"), m.group("value").strip('"')) for m in PAIR.finditer(text)]
    if not pairs:
        m = re.fullmatch(  # a field name is at most four short words: a bounded, linear try
            r"(?P<key>[a-z_]{1,40}(?: [a-z_]{1,40}){0,3}?)\s+(?:to\s+|=\s*)?(?P<value>\S.*)",
            text.strip(),
            re.IGNORECASE | re.DOTALL,
        )
        pairs = [(m.group("key"), m.group("value"))] if m else []
    changes: dict[str, Any] = {}
    for key, value in pairs:
        name = key.strip().lower().replace(" ", "_")
        field = spec.fields.get(name)
        if field is None:
            raise UserError(
                f"{spec.title} has no field {bounds.quoted(key, 40)}. "
                f"Fields: {', '.join(spec.fields)}."
            )
        try:
            changes[name] = parse_answer(field, value, ctx.event.time)
        except FieldError as exc:
            raise UserError(str(exc)) from None
    if not changes:
        raise UserError("Say what to change, for example `edit REQ-12 size=8TB`.")
    before = req.state
    await wf.edit(req, changes, await ctx.db_user())
    shown = ", ".join(
        f"{spec.fields[k].label} = {bounds.clipped(display(spec.fields[k], v), 200)}"
        for k, v in changes.items()
    )
    text = f"Updated {req.ref}: {shown}."
    if req.state != before:
        text += (
            f" It was {spec.state_label(before)}, so it goes back for approval: it is now "
            f"{spec.state_label(req.state)} and the approvers are told what changed."
        )
    await ctx.reply(text)


@skill.command(
    r"delete\s+" + REF + r"(?:\s+(?P<comment>.+))?",
    help="delete REQ-12 — remove a request (requester or staff); history is kept",
)
async def delete(ctx: Context) -> None:
    assert ctx.match is not None
    wf = service(ctx.app)
    req = await wf.get(chat.checked(ctx.match.group("ref")))
    await wf.delete(req, await ctx.db_user(), ctx.match.group("comment") or "")
    await ctx.reply(f"Deleted {req.ref}; its posted copies are removed and its history is kept.")


@skill.command(
    r"comment\s+(?:on\s+)?" + REF + r"\s*[:,-]?\s+(?P<comment>.+)",
    help="comment REQ-12 TEXT — add a note to a request's history",
)
async def comment(ctx: Context) -> None:
    assert ctx.match is not None
    await chat.add_comment(ctx, ctx.match.group("ref"), ctx.match.group("comment"))


@skill.command(
    r"(?:assign|give)\s+" + REF + r"\s+to\s+(?P<who>me|<@[\w.|-]+>|@?[\w.:-]+)"
    r"|(?:i(?:'|’)?ll\s+)?take\s+" + REF.replace("ref", "take"),
    checks=[HANDLERS],
    help="assign REQ-12 to @sam (or: take REQ-12) — say who works on a request",
)
async def assign(ctx: Context) -> None:
    assert ctx.match is not None
    wf = service(ctx.app)
    req = await wf.get(chat.checked(ctx.match.group("ref") or ctx.match.group("take")))
    who = ctx.match.group("who") or "me"
    if who == "me":
        subject = ctx.user_key
    else:
        uid = chat.user_id_of(who)
        subject = uid if ":" in uid else f"{ctx.platform}:{uid}"
    await wf.assign(req, subject, await ctx.db_user())
    shown = "you" if subject == ctx.user_key else wf.mention(subject)
    await ctx.reply(f"{req.ref} is now assigned to {shown}.")


@skill.command(
    r"override\s+(?P<verb>[a-z][\w-]*)\s+" + REF + r"\s*[:,-]?\s+(?P<comment>\S.*)",
    role="admin",
    help="override approve REQ-12 REASON — take a step on your own request (admins; audited)",
    examples=("override approve REQ-12 PI away, disk full tonight",),
)
async def override(ctx: Context) -> None:
    """Separation of duties has one exception: an admin who says so, with a reason."""
    assert ctx.match is not None
    await chat.transition(
        ctx,
        ctx.match.group("ref"),
        ctx.match.group("verb"),
        ctx.match.group("comment"),
        override=True,
    )


@skill.command(
    r"(?P<verb>[a-z][\w-]*)\s+" + REF + r"(?:\s*[:,-]?\s+(?:because\s+)?(?P<comment>.+))?",
    help="approve|deny|complete|cancel REQ-12 [reason] — move a request",
)
async def move(ctx: Context) -> None:
    assert ctx.match is not None
    await chat.transition(
        ctx, ctx.match.group("ref"), ctx.match.group("verb"), ctx.match.group("comment") or ""
    )


@skill.command(
    r"(?:please\s+)?(?:new\s+|file\s+(?:an?\s+)?|open\s+(?:an?\s+)?|i\s+(?:want|need)\s+to\s+)?"
    r"request\s+(?:an?\s+|for\s+an?\s+)?(?P<type>[\w-]+)(?:\s+request)?"
    r"(?:\s+(?:for|on\s+behalf\s+of)\s+(?P<behalf><@[\w.|-]+>|@[\w.-]+))?"
    r"(?P<rest>(?:\s+.*)?)",
    help="request quota|software|walltime|account [size=8TB …] [for @user] — "
    "file a request; I ask for what's missing",
)
async def request(ctx: Context) -> None:
    assert ctx.match is not None
    raw = chat.prefill_from_text(ctx.match.group("rest") or "")
    await chat.start(ctx, ctx.match.group("type"), {}, raw, behalf=ctx.match.group("behalf"))


# -- intents (plain language, when the NLU is available) -----------------------------------------
@skill.intent(
    "request_quota", help='ask for more storage — e.g. "I need 8TB more on /scratch/group/neuro"'
)
@skill.intent("request_software")
@skill.intent("extend_walltime")
@skill.intent("request_account")
async def new_request(ctx: Context) -> None:
    behalf = await _person_named(ctx)
    if behalf is not None and not chat.FILE_FOR_OTHERS(ctx):
        raise PermissionDenied(
            f"You can only file requests for yourself, so nothing was filed for {behalf[1]} "
            f"(filing for someone else {chat.FILE_FOR_OTHERS.describe(ctx)})."
        )
    entities = {k: v for k, v in chat.entities_of(ctx).items() if k != "user"}
    await chat.start(ctx, None, entities, intent=ctx.intent, behalf=behalf[0] if behalf else None)


async def _person_named(ctx: Context) -> tuple[str, str] | None:
    """Whom a plain-language request is for ("for @dave", "for carol", "on behalf of jdoe"):
    (the id ``chat.start`` files for, the name as said); None when it is the sender. A bare
    name is looked up among the people the bot knows on this platform; a mention is an id."""
    said = ctx.entity("user")
    if not said:
        return None
    name = str(said)
    me = ctx.event
    if name.lower() in (me.user_id.lower(), (me.user_name or "").lower()):
        return None
    if f"@{name}" not in ctx.text:
        known = await User.filter(platform=ctx.platform, name__iexact=name).limit(2)
        if len(known) == 1:
            return known[0].platform_id, name
    return f"@{name}", name


def _ref_entity(ctx: Context) -> str | None:
    """The request the message names. A number too long to be one is refused, also when the
    model's entity kept only its first digits (REQ-99999999999 must not become REQ-999999999)."""
    too_long = _LONG_REF.search(ctx.text[:2000])
    if too_long:
        chat.checked(f"REQ-{too_long.group(1)}")
    value = ctx.entity("request_id")
    if value is None:
        m = re.search(r"(?:REQ[-_ ]?#?|#)(\d+)", ctx.text[:2000], re.IGNORECASE)
        value = f"REQ-{m.group(1)}" if m else None
    return chat.checked(value) if value is not None else None


_LONG_REF = re.compile(
    rf"(?:REQ[-_ ]?#?|#|\brequest\s+)(\d{{{bounds.REF_DIGITS + 1},}})", re.IGNORECASE
)


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
            comment = ctx.text[spans[0].end :].strip(" :,-.")
            comment = re.sub(r"^(?:because|as|since)\s+", "", comment, flags=re.IGNORECASE)
    await chat.transition_inferred(ctx, ref, verb, comment)


@skill.intent("check_status")
async def check_status(ctx: Context) -> None:
    ref = _ref_entity(ctx)
    if ref is None:
        await chat.mine(ctx, open_only=True)
        return
    await chat.show_status(ctx, ref)


@skill.intent("list_resources")
async def list_requests(ctx: Context) -> None:
    await chat.mine(ctx, open_only=True)
    await chat.waiting_for(ctx, quiet=True)


@skill.intent("stats", checks=[HANDLERS])
async def stats_intent(ctx: Context) -> None:
    await chat.show_stats(ctx, chat.period_in_text(ctx.text))


@skill.intent("release_resource")
async def release(ctx: Context) -> None:
    ref = _ref_entity(ctx)
    if ref is None or parse_ref(ref) is None:
        raise UserError("Which request should I cancel? Say for example `cancel REQ-12`.")
    await chat.transition_inferred(ctx, ref, "cancel")


# -- dialogue and buttons ----------------------------------------------------------------------
@skill.followup(dialogue.FOLLOWUP, accepts=chat.takes_answer, cancelled="Nothing was filed.")
async def answer(ctx: Context) -> None:
    await dialogue.answer(ctx, service(ctx.app), ctx.text)


async def _draft(
    ctx: Context, stage: str | None = None, asking: str | None = None
) -> dict[str, Any] | None:
    """The clicking user's draft the choice belongs to (the router joined the click to its
    conversation), if it is still at the question the choice answered."""
    state = ctx.state
    draft = (state or {}).get("data") or {}
    if (
        state is None
        or state.get("followup") != dialogue.FOLLOWUP
        or (stage is not None and draft.get("stage") != stage)
        or (asking is not None and draft.get("asking") != asking)
    ):
        await ctx.reply_private(
            "That question isn't waiting for an answer from you: it was for "
            "someone else, or it has expired or been answered. Ask me again "
            "to start over."
        )
        return None
    return draft


@skill.action(dialogue.ANSWER_ACTION)
async def answer_click(ctx: Context) -> None:
    field, _, value = ctx.interaction.value.partition("|")
    if await _draft(ctx, "ask", field) is not None:
        await dialogue.answer(ctx, service(ctx.app), value)


@skill.action(dialogue.CONFIRM_ACTION)
async def confirm_click(ctx: Context) -> None:
    if await _draft(ctx, "confirm") is not None:
        await dialogue.answer(ctx, service(ctx.app), "yes")


@skill.action(dialogue.DISCARD_ACTION)
async def discard_click(ctx: Context) -> None:
    if await _draft(ctx) is not None:
        await ctx.done()
        await ctx.reply("OK, I've discarded it. Nothing was filed.")


@skill.action(TRANSITION_ACTION)
async def transition_click(ctx: Context) -> None:
    raw_id, _, name = ctx.interaction.value.partition(":")
    if not raw_id.isdigit() or len(raw_id) > bounds.REF_DIGITS:
        await ctx.reply_private("That button is broken; say `status of REQ-<n>` instead.")
        return
    await chat.transition(ctx, int(raw_id), name)


@skill.followup(COMMENT_FOLLOWUP, cancelled="The request was not moved.")
async def transition_comment(ctx: Context) -> None:
    data = (ctx.state or {}).get("data") or {}
    text = ctx.text.strip()
    if not text:
        await ctx.reply("Please give a reason (or say `cancel`).")
        return
    await ctx.done()
    await chat.transition(ctx, int(data["id"]), str(data["transition"]), text)


# -- schedules -----------------------------------------------------------------------------------
@skill.schedule(seconds=60, name="reminders")
async def reminders(app: Application) -> None:
    """Remind responsible people of stalled steps; report actions a dead process left half
    done; tell people their draft expired."""
    wf = app.services.get(WORKFLOWS)
    if isinstance(wf, Workflows):
        await remind_stalled(app, wf)
        await sweep_interrupted(wf, started_before=interrupted_before(app))
    await expire_drafts(app)
