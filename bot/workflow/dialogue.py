"""Slot filling for a new request: ask only for what is missing, one question at a time.

The draft lives in the conversation store (per user and conversation, written to the database,
so it survives a restart and expires politely). Each answer is validated with a reason; a
correction such as "actually make it 8TB" changes an earlier answer; the summary asks to confirm;
"cancel" anywhere is handled by the core router. Nothing is filed before "yes".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.bounds import clipped
from bot.events import Choice
from bot.workflow import copies, render
from bot.workflow.draft import Draft, Requester
from bot.workflow.fields import FieldError, coerce_entity, display, parse_answer
from bot.workflow.spec import FieldSpec, RequestType

if TYPE_CHECKING:
    from bot.context import Context
    from bot.storage.models import Request
    from bot.workflow.engine import Workflows

FOLLOWUP = "workflow.answer"
ANSWER_ACTION = "workflow.answer"
CONFIRM_ACTION = "workflow.confirm"
DISCARD_ACTION = "workflow.discard"

YES = frozenset(
    {
        "yes",
        "y",
        "yep",
        "yup",
        "yea",
        "yeah",
        "ok",
        "okay",
        "confirm",
        "sure",
        "file it",
        "go ahead",
        "submit",
        "do it",
        "please do",
        "correct",
        "yes please",
        "sounds good",
        "looks good",
        "lgtm",
    }
)
NO = frozenset({"no", "n", "nope", "don't", "do not", "discard"})
_CORRECTION = re.compile(
    r"^(?:(?:actually|no|sorry|wait|oops|correction|i meant|i mean|rather|instead)\b[\s,:;.!-]*)+"
    r"(?:(?:please\s+)?(?:make|change|set)\s+(?:it|that)\s+(?:to\s+)?)?",
    re.IGNORECASE,
)
_MAKE_IT = re.compile(
    r"^(?:please\s+)?(?:make|change|set)\s+(?:it|that)\s+(?:to\s+)?", re.IGNORECASE
)
#: "set the size to 8TB", "size: 8TB": a field name and its separator, within ``_NAMED_HEAD``
#: characters. Only that head is matched: the name's spaces and the separator's ``\s*`` can
#: split a run of spaces many ways, so matching all of a 40,000-character answer took seconds.
_NAMED = re.compile(
    r"^(?:(?:please\s+)?(?:make|change|set)\s+(?:the\s+)?)?(?P<field>[a-z][\w ]{0,60}?)"
    r"\s*(?:=|:|\bto\b|\bis\b|\bshould be\b)\s*",
    re.IGNORECASE,
)
_NAMED_HEAD = 120
_DISTINCT = ("size", "duration", "date", "path", "integer")


def _state(draft: Draft) -> dict[str, Any]:
    return {"followup": FOLLOWUP, "data": draft.to_dict()}


def new_draft(spec: RequestType, *, requester: Requester | None = None) -> Draft:
    return Draft(spec.name, requester=requester)


def prefill(
    spec: RequestType, draft: Draft, entities: dict[str, list[Any]], now: datetime | None = None
) -> tuple[Draft, list[str]]:
    """Fill fields from NLU entities; also returns the reasons for values that did not fit."""
    problems = []
    for name, field in spec.fields.items():
        values = entities.get(field.entity or "", [])
        if not values or name in draft.fields:
            continue
        try:
            draft = draft.with_field(name, coerce_entity(field, values[0], now))
        except FieldError as exc:
            problems.append(str(exc))
    return draft, problems


def missing(spec: RequestType, data: dict[str, Any]) -> str | None:
    """The next field to ask for, in declaration order; defaults fill unasked optional fields."""
    for name, field in spec.fields.items():
        if data.get(name) is not None:
            continue
        if not spec.needed(name, data):
            continue
        if field.default is not None:
            continue
        return name
    return None


def with_defaults(spec: RequestType, data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    for name, field in spec.fields.items():
        if out.get(name) is None and field.default is not None:
            out[name] = field.default
        if out.get(name) is None:
            out.pop(name, None)
    return out


def question(field: FieldSpec) -> tuple[str, list[Choice]]:
    """The question for ``field``; a choice field's options are buttons whose value names the
    field they answer, so a click on an old question cannot answer a newer one."""
    text = field.question
    choices = []
    if field.type == "choice":
        choices = [Choice(opt, ANSWER_ACTION, f"{field.name}|{opt}") for opt in field.choices]
    return text, choices


async def proceed(ctx: Context, spec: RequestType, draft: Draft, preface: str = "") -> None:
    """Ask the next question, or show the summary and ask to confirm."""
    draft = draft.only(spec.fields)
    name = missing(spec, dict(draft.fields))
    prefix = f"{preface}\n" if preface else ""
    key = ctx.conversation_key
    if name is not None:
        draft = draft.asking_for(name)
        await ctx.app.conversations.save(key, _state(draft))
        text, choices = question(spec.fields[name])
        await ctx.reply(prefix + text, choices=choices)
        return
    draft = draft.confirming()
    await ctx.app.conversations.save(key, _state(draft))
    text = render.summary(spec, with_defaults(spec, dict(draft.fields)))
    await ctx.reply(
        prefix + text,
        choices=[
            Choice("File it", CONFIRM_ACTION, spec.name, "primary"),
            Choice("Discard", DISCARD_ACTION, spec.name, "danger"),
        ],
    )


def _field_by_name(spec: RequestType, word: str) -> FieldSpec | None:
    word = word.strip().lower().replace("_", " ")
    for name, field in spec.fields.items():
        if word in (name.replace("_", " "), field.label.lower()):
            return field
    return None


def correction(
    spec: RequestType, draft: Draft, text: str, now: datetime | None
) -> tuple[str, Any] | None:
    """(field, value) when ``text`` changes an answer ("actually make it 8TB", "size: 8TB").

    Raises ``FieldError`` when the field is clear but the value does not fit."""
    marked = _CORRECTION.match(text)
    rest = text[marked.end() :].strip() if marked and marked.end() else text.strip()
    rest = _MAKE_IT.sub("", rest).strip()
    named = _NAMED.match(rest[:_NAMED_HEAD])
    value = rest[named.end() :] if named else ""
    if named and value and "\n" not in value.rstrip("\n"):
        field = _field_by_name(spec, named.group("field"))
        if field is not None:
            return field.name, parse_answer(field, value, now)
    if not (marked and marked.end()) and draft.stage != "confirm":
        return None
    asking = draft.asking
    candidates = [f for n, f in spec.fields.items() if n != asking and f.type in _DISTINCT]
    found = []
    for field in candidates:
        try:
            found.append((field.name, parse_answer(field, rest, now)))
        except FieldError:
            continue
    if len(found) == 1:
        return found[0]
    return None


def fits(spec: RequestType, draft: Draft, text: str, now: datetime | None) -> bool:
    """Is ``text`` a fitting answer to where the draft stands (not just any words)? Sync and
    cheap: the router asks it to tell an answer from a command. A free-text question fits
    nothing in particular, so a command typed there stays a command."""
    if draft.stage == "confirm" and text.strip().lower().rstrip(".!") in YES | NO:
        return True
    try:
        if correction(spec, draft, text, now) is not None:
            return True
    except FieldError:
        return True  # the field is clear; the answer says what is wrong
    field = spec.fields.get(str(draft.asking))
    if draft.stage == "confirm" or field is None or field.type == "text":
        return False
    try:
        parse_answer(field, text, now)
    except FieldError:
        return False
    return True


async def answer(ctx: Context, wf: Workflows, text: str) -> None:
    """Handle one message (or choice click) of a pending request dialogue."""
    state = ctx.state or {}
    draft = Draft.from_dict(state.get("data") or {})
    spec = wf.types.get(draft.type)
    if spec is None:
        await ctx.done()
        await ctx.reply("That request type is no longer configured; I've dropped the draft.")
        return
    if draft.filed:  # filed in a run that stopped before it could forget the draft
        await ctx.done()  # first: a request deleted since then ends the draft too
        await already_filed(ctx, wf, await wf.get(draft.filed))
        return
    now = ctx.event.time
    lowered = text.strip().lower().rstrip(".!")
    if draft.stage == "confirm":
        if lowered in YES:
            await confirm(ctx, wf, spec, draft)
            return
        if lowered in NO:
            await ctx.done()
            await ctx.reply("OK, I've discarded it. Nothing was filed.")
            return
    try:
        fix = correction(spec, draft, text, now)
    except FieldError as exc:
        await ctx.reply(f"{exc} The other answers are kept.")
        return
    if fix is not None:
        fixed, value = fix
        draft = draft.with_field(fixed, value)
        field = spec.fields[fixed]
        shown = clipped(display(field, value), 200)
        await proceed(ctx, spec, draft, f"Got it — {field.label} is now {shown}.")
        return
    if draft.stage == "confirm":
        await ctx.reply(
            "Say `yes` to file it, `no` to discard it, or correct a value (for "
            'example "size: 8TB").'
        )
        return
    name = draft.asking
    if name is None or name not in spec.fields:
        await proceed(ctx, spec, draft)
        return
    field = spec.fields[name]
    try:
        draft = draft.with_field(name, parse_answer(field, text, now))
    except FieldError as exc:
        await ctx.app.conversations.save(ctx.conversation_key, _state(draft))
        await ctx.reply(f"{exc}\n{field.question}", choices=question(field)[1])
        return
    await proceed(ctx, spec, draft)


async def confirm(ctx: Context, wf: Workflows, spec: RequestType, draft: Draft) -> None:
    """File the request (records first: the request, its posting and the notices, and the draft
    marked filed, in one transaction), then post it and tell the user. Filing is idempotent
    per draft: a "yes" repeated after a crash finds the request instead of filing another."""
    from bot.storage.models import Conversation
    from bot.workflow.engine import AlreadyFiled, FilingFailed

    data = with_defaults(spec, dict(draft.fields))
    if missing(spec, data) is not None:
        await proceed(ctx, spec, draft)
        return
    filer = await ctx.db_user()
    requester = filer
    behalf = draft.requester
    if behalf is not None:
        requester = await ctx.app.users.ensure(behalf.platform, behalf.id, behalf.name)
    stored = str(ctx.conversation_key)

    async def mark_filed(req: Request) -> None:
        await Conversation.filter(key=stored).update(state=_state(draft.filed_as(req.ref)))

    try:
        req = await wf.file(
            spec,
            data,
            requester,
            filed_by=filer,
            channel=ctx.channel,
            draft_key=draft.key,
            also=mark_filed,
        )
    except AlreadyFiled as exc:
        await already_filed(ctx, wf, exc.request)
        return
    except FilingFailed as exc:
        await ctx.reply(str(exc))  # the draft stays, so "yes" tries again
        return
    await ctx.done()
    posted = await copies.post_now(wf, req)
    where = f" and posted it to #{spec.channel}" if posted else ""
    whom = "you" if requester.key == filer.key else requester.name
    await ctx.reply(f"Thanks — I filed {req.ref}{where}. I'll let {whom} know when it moves.")
    text, choices = await copies.render(wf, req, requester_copy=True)
    ref = await ctx.reply(text, choices=choices)
    await copies.remember(req, ref)


async def already_filed(ctx: Context, wf: Workflows, req: Request) -> None:
    """A "yes" to a draft that was filed already (repeated, or after a crash): nothing new is
    filed; the requester's copy of the card is shown if the first run never showed it."""
    from bot.storage.models import PostedCopy

    await ctx.done()
    await ctx.reply(f"{req.ref} was already filed from these answers, so I filed nothing new.")
    if await PostedCopy.filter(request_id=req.id, channel=ctx.channel).exists():
        return
    text, choices = await copies.render(wf, req, requester_copy=True)
    await copies.remember(req, await ctx.reply(text, choices=choices))
