"""What the requests skill says in chat: moving, starting, listing and showing requests.

The skill (skills/requests.py) maps messages to these functions; they read the turn through
``ctx`` and the workflow through ``service(ctx.app)``. Who may do what is declared on the skill's
handlers (``bot.checks``) or, when it depends on the request, decided by the engine, which raises
``PermissionDenied``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bot import bounds
from bot.bounds import quoted
from bot.checks import in_group
from bot.confirm import confirm_first
from bot.errors import PermissionDenied, UserError
from bot.storage.models import Request, RequestEvent, User
from bot.workflow import copies, dialogue, permissions
from bot.workflow.draft import Draft, Requester
from bot.workflow.engine import Workflows, service
from bot.workflow.fields import FieldError, parse_answer

if TYPE_CHECKING:
    from bot.context import Context

#: any number of digits, so that REQ-99999999999999999999 gets a clear answer (``checked``)
#: rather than "I didn't understand"; the pattern stays linear
REF = r"(?P<ref>(?:REQ[-_ ]?#?|#)\d+)"
_DIGITS = re.compile(r"\d+")
COMMENT_FOLLOWUP = "workflow.comment"
#: filing a request in someone else's name (``request quota for @bob``)
FILE_FOR_OTHERS = in_group("file_for_others")
_SIZE_IN_TEXT = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?\s?(?:[kmgtp]i?b|[tgp])\b", re.IGNORECASE)
_PATH_IN_TEXT = re.compile(r"(?<!\S)(/[^\s,;]+|\$[A-Z_]+\S*)")
#: ``key=value``; a key starts only where a word starts, so a long run of letters is tried once
#: (without the look-behind, finditer retried it from every letter: quadratic, seconds at 16 kB)
PAIR = re.compile(r"(?<![a-z_])(?P<key>[a-z_]+)\s*[=:]\s*(?P<value>\"[^\"]*\"|\S+)", re.IGNORECASE)


def user_id_of(word: str) -> str:
    """``<@U123|sam>``, ``<@U123>``, ``@sam`` or ``sam`` -> the platform user id (refused
    clearly when it is too long to be one)."""
    word = word.strip()
    m = re.fullmatch(r"<@([\w.-]+)(?:\|[^>]*)?>", word)
    return bounds.user_id(m.group(1) if m else word.lstrip("@"))


def checked(ref: str) -> str:
    """A request reference typed by a user, refused clearly when its number is too long to be
    one (the database's integer ids would overflow)."""
    digits = _DIGITS.search(ref)
    if digits is not None:
        bounds.ref_number(digits.group(0), ref)
    return ref


async def transition(
    ctx: Context, ref: str | int, word: str, comment: str = "", *, override: bool = False
) -> None:
    """Move a request by a verb ("approve"); ask for the reason when the step needs one.
    ``override`` is an admin's explicit exception to separation of duties (with a reason)."""
    wf = service(ctx.app)
    req = await wf.get(checked(ref) if isinstance(ref, str) else ref)
    spec = wf.spec_of(req)
    name = spec.find_transition(word)
    if name is None:
        possible = ", ".join(n for n, _ in spec.transitions_from(req.state)) or "nothing"
        what = f"can't be {word!r}-ed" if len(word) <= 30 else f"has no step {quoted(word, 30)}"
        raise UserError(f"{req.ref} ({spec.title}) {what}. Possible now: {possible}.")
    tr = spec.transitions[name]
    if len(comment) > MAX_COMMENT:
        raise UserError(
            f"A reason can be at most {MAX_COMMENT:,} characters (yours has {len(comment):,})."
        )
    if tr.comment == "required" and not comment.strip():
        decision = wf.decide(req, spec, name, ctx.user_key)
        if not decision.allowed:
            raise PermissionDenied(decision.reason)
        await ctx.expect(COMMENT_FOLLOWUP, {"id": req.id, "transition": name})
        await ctx.reply(
            f"Why should {req.ref} be {tr.past}? Your reason goes to the requester "
            "(or say `cancel`)."
        )
        return
    await wf.transition(req, name, await ctx.db_user(), comment.strip(), override=override)
    await ctx.reply(f"{req.ref} is now {spec.state_label(req.state)} ({tr.past} by you).")


async def transition_inferred(ctx: Context, ref: str, word: str, comment: str = "") -> None:
    """A transition the model inferred from plain words: restated with Yes/No first (see
    ``bot.confirm``), carried out only after the same person's yes."""
    if len(comment) > MAX_COMMENT:
        raise UserError(
            f"A reason can be at most {MAX_COMMENT:,} characters (yours has {len(comment):,})."
        )
    wf = service(ctx.app)
    req = await permissions.visible(wf, checked(ref), ctx.user_key)
    requester = req.requester.name if isinstance(req.requester, User) else "someone"
    summary = f"{word.capitalize()} {req.ref} — {wf.describe(req, wf.spec_of(req))} for {requester}"
    summary += f", because: {comment}" if comment else ""
    command = f"{word} {req.ref}" + (f" {comment}" if comment else "")
    if await confirm_first(ctx, summary, command=command):
        await transition(ctx, req.ref, word, comment)


def prefill_from_text(text: str) -> dict[str, list[Any]]:
    """Entities from the command form: key=value pairs, a size and a path anywhere."""
    found: dict[str, list[Any]] = {}
    for m in PAIR.finditer(text):
        found.setdefault(f"={m.group('key').lower()}", []).append(m.group("value").strip('"'))
    text = PAIR.sub(" ", text)
    size = _SIZE_IN_TEXT.search(text)
    if size:
        found["~size"] = [size.group(0)]
    path = _PATH_IN_TEXT.search(text)
    if path:
        found["~path"] = [path.group(1)]
    return found


async def start(
    ctx: Context,
    type_word: str | None,
    entities: dict[str, list[Any]],
    raw: dict[str, list[Any]] | None = None,
    behalf: str | None = None,
    intent: str | None = None,
) -> None:
    """Begin the dialogue for a new request, with what the message already told."""
    wf = service(ctx.app)
    spec = None
    if intent:
        spec = wf.type_for_intent(intent, ctx.text)
    elif type_word:
        spec = wf.type_named(type_word)
    if spec is None:
        names = ", ".join(sorted(wf.types))
        asked = bounds.clipped(type_word or "request", 40)
        raise UserError(
            f"I don't know a {asked} request. I can file: {names} (say e.g. `request quota`)."
        )
    requester = None
    if behalf:
        if not FILE_FOR_OTHERS(ctx):
            raise PermissionDenied(
                f"Filing a request for someone else {FILE_FOR_OTHERS.describe(ctx)}."
            )
        uid = user_id_of(behalf)
        info = await ctx.adapter.user_info(uid)
        requester = Requester(ctx.platform, uid, info.name or uid)
    draft, problems = dialogue.prefill(
        spec, dialogue.new_draft(spec, requester=requester), entities, ctx.event.time
    )
    for key, values in (raw or {}).items():  # command form: typed by the field's own parser
        for name, field in spec.fields.items():
            hit = key == f"={name}" or (key == f"~{field.type}" and name not in draft.fields)
            if not hit:
                continue
            try:
                draft = draft.with_field(name, parse_answer(field, str(values[0]), ctx.event.time))
            except FieldError as exc:
                problems.append(str(exc))
            break
    intro = f"Let's file a {(spec.title or spec.name).lower()} request"
    intro += f" for {requester.name}." if requester else "."
    if problems:
        intro += " " + " ".join(problems)
    await dialogue.proceed(ctx, spec, draft, intro)


def entities_of(ctx: Context) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for ent in ctx.parse.entities if ctx.parse else ():
        out.setdefault(ent.entity, []).append(ent.value)
    return out


async def line(wf: Workflows, req: Request) -> str:
    spec = wf.types.get(req.type)
    if spec is None:
        return f"• {req.ref} {req.type} — {req.state}"
    described = bounds.clipped(wf.describe(req, spec), LINE_SHOWN)
    return f"• {req.ref} {described} — {spec.state_label(req.state)}"


#: a listing line's description, and a history entry's comment, as shown in chat: a long
#: comment (2,000 characters, or more from before that limit) would make every page enormous
LINE_SHOWN = 100
COMMENT_SHOWN = 300
HISTORY_PAGE = 20  # entries of a history page (`history REQ-3 page 2` for the one before)
STATUS_HISTORY = 5  # the newest entries shown under a status card
LISTED = 50  # requests in "my requests" and "waiting for me"


async def show_status(ctx: Context, ref: str) -> None:
    wf = service(ctx.app)
    req = await permissions.visible(wf, checked(ref), ctx.user_key)
    text, _ = await copies.render(wf, req)
    total = await RequestEvent.filter(request_id=req.id).count()
    lines = [bounds.clipped(text, bounds.REPLY // 2), "History:"]
    if total > STATUS_HISTORY:
        lines.append(
            f"  … the last {STATUS_HISTORY} of {total:,} entries; say `history {req.ref}` for more."
        )
    lines += await history_lines(req, STATUS_HISTORY, 0)
    await ctx.reply("\n".join(bounds.fitted(lines, more=f"Say `history {req.ref}`.")))


async def show_history(ctx: Context, ref: str, page: int = 1) -> None:
    """One page of a request's history, newest page first; the header says which entries."""
    wf = service(ctx.app)
    req = await permissions.visible(wf, checked(ref), ctx.user_key)
    spec = wf.spec_of(req)
    total = await RequestEvent.filter(request_id=req.id).count()
    pages = max(1, -(-total // HISTORY_PAGE))
    if page < 1 or page > pages:
        raise UserError(
            f"The history of {req.ref} has {pages:,} page{'s' if pages != 1 else ''} "
            f"of {HISTORY_PAGE} entries; say `history {req.ref} page {pages}` for the oldest."
        )
    head = f"History of {req.ref} ({wf.describe(req, spec)}, {spec.state_label(req.state)})"
    entries = await history_lines(req, HISTORY_PAGE, (page - 1) * HISTORY_PAGE)
    if pages == 1:
        lines = [f"{bounds.clipped(head, LINE_SHOWN)}:", *entries]
    else:
        newest = total - (page - 1) * HISTORY_PAGE
        oldest = newest - len(entries) + 1
        lines = [
            f"{bounds.clipped(head, LINE_SHOWN)}: entries {oldest:,}–{newest:,} of {total:,}, "
            f"page {page} of {pages} (page 1 is the newest)",
            *entries,
        ]
        if page < pages:
            lines.append(f"Say `history {req.ref} page {page + 1}` for earlier entries.")
    await ctx.reply("\n".join(bounds.fitted(lines)))


async def history_lines(req: Request, limit: int, offset: int) -> list[str]:
    """Who did what, when, with which comment (shortened): ``limit`` entries, skipping the
    ``offset`` newest, oldest first."""
    events = (
        await RequestEvent.filter(request_id=req.id)
        .order_by("-id")
        .offset(offset)
        .limit(limit)
        .prefetch_related("actor")
    )
    lines = []
    for ev in reversed(events):
        who = ev.actor.name if ev.actor else "the bot"
        when = ev.created_at.strftime("%Y-%m-%d %H:%M") if ev.created_at else ""
        comment = f": {bounds.clipped(ev.comment, COMMENT_SHOWN)}" if ev.comment else ""
        lines.append(f"  {when} {ev.action} by {who}{comment}")
    return lines


async def mine(ctx: Context, open_only: bool) -> None:
    wf = service(ctx.app)
    me = await ctx.db_user()
    qs = Request.filter(requester_id=me.id, deleted=False)
    if open_only:
        qs = qs.filter(closed_at=None)
    total = await qs.count()
    rows = await qs.order_by("-id").limit(LISTED)
    if not rows:
        await ctx.reply("You have no open requests. Say e.g. `request quota` to file one.")
        return
    lines = ["Your open requests:"] + [await line(wf, r) for r in rows]
    if total > len(rows):
        lines.append(
            f"… and {total - len(rows):,} older ones (`search requests mine open` finds them)."
        )
    await ctx.reply("\n".join(bounds.fitted(lines)))


async def waiting_for(ctx: Context, quiet: bool = False) -> None:
    """The open requests this user can move now (other people's)."""
    wf = service(ctx.app)
    rows = []
    for req in (
        await Request.filter(deleted=False, closed_at=None)
        .order_by("id")
        .limit(1000)
        .prefetch_related("requester", "filed_by")
    ):
        spec = wf.types.get(req.type)
        if spec is None:
            continue
        moves = [
            n
            for n, t in spec.transitions_from(req.state)
            if not all(r.requester and not r.roles and not r.users for r in t.allow)
            and wf.decide(req, spec, n, ctx.user_key).allowed
        ]
        if moves and req.requester.key != ctx.user_key:
            rows.append(f"{await line(wf, req)} (you can: {', '.join(moves)})")
    if not rows:
        if not quiet:
            await ctx.reply("Nothing is waiting for you.")
        return
    shown = rows[:LISTED]
    if len(rows) > LISTED:
        shown.append(f"… and {len(rows) - LISTED:,} more (the oldest are listed first).")
    await ctx.reply("\n".join(bounds.fitted(["Waiting for you:", *shown])))


_PERIOD_IN_TEXT = re.compile(
    r"\b(?:since|from|(?:in|over|for|during)?\s*(?:the\s+)?(?:last|past|previous))\s+\S[^?!]*",
    re.IGNORECASE,
)


def period_in_text(text: str) -> str | None:
    """The period a plain-language stats question names ("… for the last 7 days", "since
    monday"), or None; only the first 200 characters are looked at."""
    found = _PERIOD_IN_TEXT.search(text[:200])
    return found.group(0).strip(" .") if found else None


async def show_stats(ctx: Context, period_text: str | None) -> None:
    from bot.workflow import stats as wstats  # here, not at start-up: only used here

    try:
        period = wstats.parse_period(period_text)
    except ValueError as exc:
        raise UserError(f"{exc}.") from None
    wf = service(ctx.app)
    result = await wstats.compute(wf.types, period)
    await ctx.reply("\n".join(bounds.fitted(wstats.report(result, wf.types).splitlines())))


def takes_answer(ctx: Context) -> bool:
    """Does this message answer the pending draft (the dialogue follow-up's ``accepts``)?

    Yes, unless it is a command that is not also a fitting answer: "status of REQ-3" asked for a
    size runs the command (the draft stays), "8TB" answers, "yes" confirms."""
    if ctx.app.registry.match_command(ctx.text.strip()) is None:
        return True
    draft = Draft.from_dict((ctx.state or {}).get("data") or {})
    wf = service(ctx.app)
    spec = wf.types.get(draft.type)
    return spec is not None and dialogue.fits(spec, draft, ctx.text, ctx.event.time)


COMMENT_ANY = in_group("comment_on_any_request")
MAX_COMMENT = 2000  # characters of a comment or reason: a note, not a document


async def add_comment(ctx: Context, ref: str, comment: str) -> None:
    """A note in a request's history, by its requester or the ``comment_on_any_request`` group."""
    wf = service(ctx.app)
    req = await wf.get(checked(ref))
    spec = wf.spec_of(req)
    if len(comment) > MAX_COMMENT:
        raise UserError(
            f"A comment can be at most {MAX_COMMENT:,} characters (yours has {len(comment):,}); "
            "put a long text in a file or a ticket and link it."
        )
    if not wf.may_edit(req, ctx.user_key) and not COMMENT_ANY(ctx):
        raise PermissionDenied(
            f"Commenting on {req.ref} is for its requester; anyone else "
            f"{COMMENT_ANY.describe(ctx)}."
        )
    actor = await ctx.db_user()
    async with ctx.app.deliveries.recording():  # the note, its record and the card update
        await RequestEvent.create(
            request=req,
            actor=actor,
            action="commented",
            from_state=req.state,
            to_state=req.state,
            comment=comment,
        )
        await ctx.app.audit.record_now(ctx.user_key, "request.commented", req.ref)
        await copies.refresh_after(wf, req)
    await ctx.reply(f"Noted on {req.ref} ({spec.state_label(req.state)}).")
