"""Node loans from chat: borrow test nodes for a period, see who has what, extend, give back.

A loan is a workflow request (``config/workflows/node_loan.yml``): staff approve, and the
``assign_loan`` action then books the nodes (free ones first, never overlapping) and writes
the users into the nodes' Hiera files, one pushed commit. An observer warns before the end and
cleans up at the end. The parts live in ``skills/_loans`` (see docs/loans.md).
"""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

from bot.actions import ActionResult, ActionRun
from bot.checks import has_role, in_group
from bot.confirm import confirm_first
from bot.context import Context
from bot.errors import PermissionDenied, UserError
from bot.scope import SkillScope
from bot.skill import Skill
from bot.storage.models import User
from bot.workflow import chat
from nlu.normalise import parse_date
from skills._loans import assign, models, views
from skills._loans.check import check_paths
from skills._loans.expiry import EXTEND_ACTION, REPEAT, LoanExpiry, end_loan
from skills._loans.fields import duration_days
from skills._loans.inventory import parse_nodes
from skills._loans.service import LOANS, Loans, days_between, service
from skills._loans.settings import loan_settings

skill = Skill("loans", "Node loans: borrow test nodes for a period; Hiera files kept in step.")

STAFF = has_role("staff")
REF = r"(?P<ref>REQ[-_ ]?\d{1,9})"
LOAN_TYPE = "node_loan"
EXTENSION_TYPE = "loan_extension"
#: the words that end one part of "borrow 4 gpu from … to … for project … experiment … users …"
_PARTS = {
    "from": "start",
    "starting": "start",
    "to": "end",
    "until": "end",
    "till": "end",
    "project": "project",
    "experiment": "experiment",
    "users": "users",
    "user": "users",
    "sudo": "sudoers",
    "sudoers": "sudoers",
}


@skill.setup
async def setup(scope: SkillScope) -> None:
    settings = loan_settings(scope.settings.loans, scope.settings.source)
    loans = Loans.create(settings)
    scope.provide(LOANS, loans)
    await assign.ensure_locks(settings)
    scope.add_action("assign_loan", assign_loan)
    scope.add_action("extend_loan", extend_loan)
    if settings.inventory or loans.repo is not None:  # nothing to watch where loans are off
        scope.app.observers.add(LoanExpiry(loans), skill.name, repeat_after=REPEAT)
        scope.on_close(lambda: scope.app.observers.remove_owner(skill.name))


# -- asking for a loan ---------------------------------------------------------------------
@skill.command(
    r"(?:borrow|reserve)\s+(?P<rest>[^\n]{0,300}?\bfrom\s+\d{4}-\d{2}-\d{2}\s+(?:to|until|till)\s+"
    r"\d{4}-\d{2}-\d{2}(?:\s[^\n]{0,700})?)",
    help="borrow 4 gpu from 2027-03-01 to 2027-04-30 project Porting experiment Techlab "
    "users alice,bob — ask for a node loan (hostlists work too: gpu[01-04])",
    examples=("borrow 4 gpu nodes from 2027-03-01 to 2027-04-30 project X",),
)
async def borrow(ctx: Context) -> None:
    """The exact form, with ISO dates; anything looser ("can I borrow 4 gpu nodes for a
    month?") goes to the language model's ``request_loan``."""
    assert ctx.match is not None
    parts = split_request(ctx.match.group("rest").rstrip(" ?."))
    loans = service(ctx.app)
    if parts.get("nodes"):
        parse_nodes(parts["nodes"], loans.settings)  # a clear answer now, not at approval
    start, end = (parse_date(parts.get(k) or "", ctx.event.time) for k in ("start", "end"))
    if start and end:
        days = days_between(date.fromisoformat(start), date.fromisoformat(end))
        if days < 1:
            raise UserError(f"The loan would end ({end}) before it starts ({start}).")
        if days > loans.settings.policy.max_days:
            raise UserError(
                f"A loan can last at most {loans.settings.policy.max_days} days; "
                f"{start} to {end} is {days}."
            )
    raw: dict[str, list[Any]] = {f"={k}": [v] for k, v in parts.items() if v}
    await chat.start(ctx, LOAN_TYPE, {}, raw=raw)


def split_request(text: str) -> dict[str, str]:
    """ "4 gpu nodes from 2027-03-01 to 2027-04-30 for project X users a,b" -> its parts, by
    keyword (a word scan: linear in the text)."""
    parts: dict[str, list[str]] = {"nodes": []}
    current = "nodes"
    words = text.split()
    for i, word in enumerate(words):
        key = _PARTS.get(word.lower().strip(":"))
        # a keyword starts its part once; later it is a word ("Porting from x86 to ARM")
        if key is not None and key not in parts and (key != "end" or current in ("start", "nodes")):
            current = key
            parts.setdefault(current, [])
            continue
        if word.lower() == "for" and i + 1 < len(words) and words[i + 1].lower() in _PARTS:
            continue
        if current in ("start", "end") and parts[current]:
            raise UserError(
                f"After the dates I expected `project …`, `experiment …`, `users …` or "
                f"`sudo …`, not {word[:40]!r}. For example: `borrow 2 gpu from 2027-03-01 to "
                "2027-03-31 project Porting experiment Techlab users alice, bob`."
            )
        parts.setdefault(current, []).append(word)
    return {k: " ".join(v).strip(" ,") for k, v in parts.items()}


# -- what happens on approval --------------------------------------------------------------
async def assign_loan(run: ActionRun) -> ActionResult:
    """Book the nodes and write the Hiera files; the requester is told which nodes."""
    loans = service(run.app)
    data = run.request.fields_data
    wanted = parse_nodes(str(data.get("nodes", "")), loans.settings)
    users = _names(str(data.get("users", "")))
    sudo = [u for u in _names(str(data.get("sudoers") or "")) if u in users]
    requester = run.request.requester
    assert isinstance(requester, User)  # fetched by the workflow before actions run
    terms = assign.LoanTerms(
        request_id=run.request.id,
        requester=requester.key,
        requester_name=requester.name,
        start=date.fromisoformat(str(data["start"])),
        end=date.fromisoformat(str(data["end"])),
        project=str(data.get("project", "")),
        experiment=str(data.get("experiment", "")),
        users=tuple(users),
        extra={"sudoers": [[u, loans.settings.sudo_rule] for u in sudo]} if sudo else {},
    )
    if days_between(terms.start, terms.end) > loans.settings.policy.max_days:
        raise UserError(
            f"A loan can last at most {loans.settings.policy.max_days} days; this one asks "
            f"for {days_between(terms.start, terms.end)}."
        )
    loan = await assign.book(loans.settings, wanted, terms)
    nodes = await assign.loan_nodes(loan)
    run.app.audit.record("loans", "loan.assigned", loan.ref, nodes=nodes)
    await run.progress("assigned", ", ".join(nodes))
    booked = f"Assigned {', '.join(nodes)} from {loan.start} to {loan.end}"
    try:
        sha = await loans.write(loan, f"lend to {', '.join(loan.users)} until {loan.end}")
    except UserError as exc:
        return ActionResult(
            False,
            f"{booked}, but the Hiera files could not be updated ({exc}). "
            "I'll keep trying every hour.",
            {"nodes": nodes},
        )
    return ActionResult(
        True,
        f"{booked}; access for {', '.join(loan.users)} is in Hiera"
        + (f" (commit {sha[:10]})." if sha else "."),
        {"nodes": nodes, "commit": sha or ""},
    )


async def extend_loan(run: ActionRun) -> ActionResult:
    """An approved extension: policy checked again (the approver too), then the new end date
    in the database and in Hiera."""
    loans = service(run.app)
    data = run.request.fields_data
    loan = await _loan(str(data.get("loan", "")))
    until = date.fromisoformat(str(data["until"]))
    policy = loans.settings.policy
    if loan.state != models.ACTIVE:
        raise UserError(f"{loan.ref} has already ended; ask for a new loan instead.")
    if until <= loan.end:
        raise UserError(f"{loan.ref} already runs until {loan.end}.")
    if days_between(loan.start, until) > policy.max_days:
        raise UserError(
            f"A loan can last at most {policy.max_days} days; until {until} it would last "
            f"{days_between(loan.start, until)}."
        )
    if loan.extensions >= policy.extensions_before_management:
        actor = run.actor.key if run.actor is not None else ""
        if not run.app.roles.has(actor, "management"):
            raise UserError(
                f"{loan.ref} has been extended {loan.extensions} times; management has to "
                "approve further extensions."
            )
    await assign.extend(loan, until)
    run.app.audit.record("loans", "loan.extended", loan.ref, until=until.isoformat())
    try:
        sha = await loans.write(loan, f"extend until {until}")
    except UserError as exc:
        return ActionResult(
            False, f"{loan.ref} now runs until {until}, but Hiera was not updated ({exc})."
        )
    return ActionResult(
        True,
        f"{loan.ref} now runs until {until}" + (f" (commit {sha[:10]})." if sha else "."),
        {"commit": sha or ""},
    )


# -- extending ----------------------------------------------------------------------------
@skill.command(
    r"extend\s+loan\s+" + REF + r"(?:\s+(?:until|to|till)\s+(?P<until>[^\n]{1,40}))?",
    help="extend loan REQ-17 [until 2027-05-31] — ask to keep borrowed nodes longer",
)
async def extend_command(ctx: Context) -> None:
    assert ctx.match is not None
    await start_extension(ctx, ctx.match.group("ref"), ctx.match.group("until"))


@skill.action(EXTEND_ACTION)
async def extend_clicked(ctx: Context) -> None:
    await start_extension(ctx, ctx.interaction.value, None)


async def start_extension(ctx: Context, ref: str, until: str | None) -> None:
    loans = service(ctx.app)
    loan = await _loan(ref)
    if ctx.user_key != loan.requester and not STAFF(ctx):
        raise PermissionDenied(f"Only the borrower or staff can extend {loan.ref}.")
    if loan.state != models.ACTIVE:
        raise UserError(f"{loan.ref} has already ended; ask for a new loan instead.")
    raw: dict[str, list[Any]] = {"=loan": [loan.ref]}
    policy = loans.settings.policy
    if loan.extensions >= policy.extensions_before_management:
        raw["=approver"] = ["management"]
    if until:
        day = parse_date(until, ctx.app.clock.now())
        if day is None:
            raise UserError(f"{until!r} isn't a date I understand — e.g. 2027-05-31.")
        if days_between(loan.start, date.fromisoformat(day)) > policy.max_days:
            raise UserError(
                f"A loan can last at most {policy.max_days} days ({loan.ref} started on "
                f"{loan.start}, so until {loan.start + timedelta(days=policy.max_days - 1)})."
            )
        raw["=until"] = [day]
    await chat.start(ctx, EXTENSION_TYPE, {}, raw=raw)


# -- giving back ---------------------------------------------------------------------------
@skill.command(
    r"(?:release|end|return)\s+loan\s+" + REF,
    help="release loan REQ-17 — give borrowed nodes back now (the borrower or staff)",
)
async def release(ctx: Context) -> None:
    assert ctx.match is not None
    await release_loan(ctx, await _loan(ctx.match.group("ref")))


async def release_loan(ctx: Context, loan: models.Loan) -> None:
    """Give the nodes back now: exactly this loan's users leave its nodes' files."""
    if ctx.user_key != loan.requester and not STAFF(ctx):
        raise PermissionDenied(f"Only the borrower or staff can release {loan.ref}.")
    if loan.state != models.ACTIVE:
        raise UserError(f"{loan.ref} has already ended.")
    nodes = await assign.loan_nodes(loan)
    summary = (
        f"Release node loan {loan.ref}: remove {', '.join(loan.users)} from {', '.join(nodes)} now"
    )
    if not await confirm_first(ctx, summary, command=f"release loan {loan.ref}"):
        return
    sha = await service(ctx.app).remove(loan, f"released by {ctx.user_name}")
    await end_loan(loan)
    ctx.app.audit.record(ctx.user_key, "loan.released", loan.ref, commit=sha or "")
    await ctx.reply(
        f"{loan.ref} is released: {', '.join(loan.users)} removed from {', '.join(nodes)}"
        + (f" (commit {sha[:10]})." if sha else ".")
    )


# -- views ---------------------------------------------------------------------------------
@skill.command(
    r"(?:(?:show|list)\s+)?(?:my\s+)?loans",
    help="my loans — the node loans you hold or use",
    audit=False,
)
async def my_loans(ctx: Context) -> None:
    await ctx.reply(await views.mine(ctx.user_key, ctx.user_name))


@skill.command(
    r"(?:all\s+loans|loans?\s+calendar)",
    checks=[in_group(views.SEE_ALL)],
    help="all loans — every current and coming node loan (the calendar)",
    audit=False,
)
async def all_loans(ctx: Context) -> None:
    rows = await views.rows()
    if not rows:
        await ctx.reply("There are no current or coming node loans.")
        return
    lines = [
        f"• {r['request']}: {views.hostlist(r['nodes'])}, {r['start']} to {r['end']} — "
        f"{r['requester_name'] or r['requester']}, {r['project'] or 'no project'}"
        for r in rows[:50]
    ]
    more = f"\n… and {len(rows) - 50} more (`quartermaster loans list`)" if len(rows) > 50 else ""
    await ctx.reply("Node loans by start date:\n" + "\n".join(lines) + more)


@skill.command(
    r"loan\s+" + REF, help="loan REQ-17 — one loan's nodes, dates and users", audit=False
)
async def show_loan(ctx: Context) -> None:
    assert ctx.match is not None
    loan = await _loan(ctx.match.group("ref"))
    await ctx.reply(await views.detail(loan, full=views.may_see(ctx, loan)))


@skill.command(
    r"who\s+(?:has|holds|borrowed|is\s+using)\s+(?P<node>[A-Za-z0-9][A-Za-z0-9_.\-]{0,99})\s*\??",
    help="who has gpu05? — the loans of a node, now and later",
    audit=False,
)
async def who_has(ctx: Context) -> None:
    assert ctx.match is not None
    node = ctx.match.group("node")
    if node not in service(ctx.app).settings.inventory:
        raise UserError(f"{node} is not a node I lend.")
    await ctx.reply(await views.holders(ctx, node, ctx.app.clock.now().date()))


@skill.command(
    r"(?:(?:which|what|are\s+(?:there\s+)?any|any)\s+)?(?P<kind>[a-z][a-z0-9_-]{0,39}\s+)?nodes\s+"
    r"(?:are\s+)?free(?P<when>[^\n]{0,80})|free\s+(?P<kind2>[a-z][a-z0-9_-]{0,39}\s+)?nodes"
    r"(?P<when2>[^\n]{0,80})",
    help="which nodes are free next week? — nodes no loan holds in a period (also: free gpu "
    "nodes from 2027-03-01 to 2027-03-14)",
    examples=("which nodes are free next week?", "free gpu nodes from 2027-03-01 to 2027-03-14"),
    audit=False,
)
async def free(ctx: Context) -> None:
    assert ctx.match is not None
    kind = (ctx.match.group("kind") or ctx.match.group("kind2") or "").strip() or None
    when = (ctx.match.group("when") or ctx.match.group("when2") or "").strip(" ?")
    await _free_reply(ctx, kind, when)


async def _free_reply(ctx: Context, kind: str | None, when: str) -> None:
    loans = service(ctx.app)
    if kind is not None and kind not in loans.settings.kinds:
        kind = kind.rstrip("s") if kind.rstrip("s") in loans.settings.kinds else None
    start, end = views.period(when, ctx.app.clock.now().date())
    nodes = await assign.free_nodes(loans.settings, start, end, kind)
    what = f"{kind} nodes" if kind else "nodes"
    span = f"{start}" if start == end else f"{start} to {end}"
    if not nodes:
        await ctx.reply(f"No {what} are free for all of {span}.")
        return
    await ctx.reply(f"Free {what} for all of {span}: {views.hostlist(nodes)} ({len(nodes)}).")


@skill.command(r"hiera\s+check", checks=[STAFF], help="hiera check — check the node files now")
async def hiera_check(ctx: Context) -> None:
    loans = service(ctx.app)
    repo = loans.working_copy()
    async with repo.locked():
        await repo.sync()
        violations, _ = await asyncio.to_thread(
            check_paths, [repo.path], ctx.app.clock.now().date(), loans.settings.users_key
        )
    if not violations:
        await ctx.reply("The node files are in order.")
        return
    shown = [str(v).removeprefix(str(repo.path) + "/") for v in violations[:20]]
    more = f"\n… and {len(violations) - 20} more" if len(violations) > 20 else ""
    await ctx.reply(f"{len(violations)} problems in the node files:\n" + "\n".join(shown) + more)


# -- plain language -------------------------------------------------------------------------
_ABOUT_LOANS = re.compile(
    r"\b(?:loans?|borrow(?:ed|ing)?|lent|lend|reserv(?:ed|ations?))\b", re.IGNORECASE
)
_FREE = re.compile(r"\b(?:free|available|unused)\b", re.IGNORECASE)
_NODES = re.compile(r"\bnodes?\b", re.IGNORECASE)
_PERIOD_WORDS = ("next week", "this week", "next month", "tomorrow", "today")


def _node_names(ctx: Context) -> list[str]:
    found: list[str] = []
    for value in ctx.entities("node"):
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, str) and name not in found:
                found.append(name)
    return found


def _inventory_nodes(ctx: Context) -> list[str]:
    loans = ctx.app.services.get(LOANS)
    if loans is None:
        return []
    return [n for n in _node_names(ctx) if n in loans.settings.inventory]


def about_loans(ctx: Context) -> bool:
    """The message is about node loans: loan words, a lendable node, or free nodes."""
    text = ctx.text[:500]
    if _ABOUT_LOANS.search(text) or _inventory_nodes(ctx):
        return True
    return bool(_FREE.search(text) and _NODES.search(text))


@skill.intent("request_loan", help='borrow nodes — e.g. "can I borrow 4 gpu nodes in march?"')
async def request_loan_intent(ctx: Context) -> None:
    """The model's reading fills the draft; the dialogue's summary and "yes" file it."""
    loans = service(ctx.app)
    raw: dict[str, list[Any]] = {}
    nodes = _node_names(ctx)
    count, kind = ctx.entity("count"), ctx.entity("cluster_type")
    if nodes:
        raw["=nodes"] = [parse_nodes(",".join(nodes), loans.settings).describe()]
    elif isinstance(kind, str):  # an unknown kind is refused here, naming the kinds lent
        wanted = f"{count if isinstance(count, int) else 1} {kind.lower()}"
        raw["=nodes"] = [parse_nodes(wanted, loans.settings).describe()]
    start, end = _dates_of(ctx)
    days = duration_days(ctx.entity("duration"))
    if days and end is None:
        start = start or ctx.app.clock.now().date()  # "for a month": from today, shown to confirm
        end = start + timedelta(days=days - 1)
    if start is not None:
        raw["=start"] = [start.isoformat()]
    if end is not None:
        raw["=end"] = [end.isoformat()]
    users = [u for u in ctx.entities("user") if isinstance(u, str)]
    if users:
        raw["=users"] = [", ".join(users)]
    await chat.start(ctx, LOAN_TYPE, {}, raw=raw)


@skill.intent("list_resources", when=about_loans, audit=False)
async def list_loans_intent(ctx: Context) -> None:
    await check_loans_intent(ctx)


@skill.intent("check_status", when=about_loans, audit=False)
async def check_loans_intent(ctx: Context) -> None:
    """ "who has gpu05?", "which nodes are free next week?", "status of my loan REQ-17"."""
    nodes = _inventory_nodes(ctx)
    today = ctx.app.clock.now().date()
    if _FREE.search(ctx.text[:500]):
        await _free_reply(ctx, None, _period_in(ctx))
    elif nodes:
        for node in nodes[:5]:
            await ctx.reply(await views.holders(ctx, node, today))
    elif (loan := await _loan_named(ctx)) is not None:
        await ctx.reply(await views.detail(loan, full=views.may_see(ctx, loan)))
    else:
        await ctx.reply(await views.mine(ctx.user_key, ctx.user_name))


@skill.intent("extend_loan", when=about_loans)
async def extend_loan_intent(ctx: Context) -> None:
    loan = await _loan_named(ctx) or await _only_loan(ctx)
    until = None
    dates = [d for d in ctx.entities("date") if isinstance(d, str)]
    days = duration_days(ctx.entity("duration"))
    if dates:
        until = dates[-1]
    elif days:
        until = (loan.end + timedelta(days=days)).isoformat()
    await start_extension(ctx, loan.ref, until)


@skill.intent("release_resource", when=about_loans)
async def release_loan_intent(ctx: Context) -> None:
    await release_loan(ctx, await _loan_named(ctx) or await _only_loan(ctx))


_UNTIL = frozenset({"until", "till", "til", "to", "by", "through", "thru"})


def _dates_of(ctx: Context) -> tuple[date | None, date | None]:
    """The first and last day in the message: a date after "until"/"to" is the end."""
    start = end = None
    for ent in ctx.parse.entities if ctx.parse else ():
        if ent.entity != "date" or not isinstance(ent.value, str):
            continue
        try:
            day = date.fromisoformat(ent.value)
        except ValueError:
            continue
        before = ctx.text[max(0, ent.start - 12) : ent.start].split()
        if (before and before[-1].lower() in _UNTIL) or start is not None:
            end = day
        else:
            start = day
    return start, end


def _period_in(ctx: Context) -> str:
    lowered = ctx.text.lower()
    for words in _PERIOD_WORDS:
        if words in lowered:
            return words
    dates = [d for d in ctx.entities("date") if isinstance(d, str)]
    if len(dates) > 1:
        return f"from {dates[0]} to {dates[1]}"
    return dates[0] if dates else ""


async def _loan_named(ctx: Context) -> models.Loan | None:
    ref = ctx.entity("request_id")
    if not isinstance(ref, str):
        return None
    return await _loan(ref)


async def _only_loan(ctx: Context) -> models.Loan:
    mine = [loan for loan in await models.Loan.filter(state=models.ACTIVE, requester=ctx.user_key)]
    if len(mine) == 1:
        return mine[0]
    if not mine:
        raise UserError("You have no node loan. Say `my loans` to check.")
    refs = ", ".join(loan.ref for loan in mine)
    raise UserError(f"Which loan — {refs}? Say for example `extend loan {mine[0].ref}`.")


# -- helpers -------------------------------------------------------------------------------
async def _loan(ref: str) -> models.Loan:
    m = re.fullmatch(r"(?i)REQ[-_ ]?(\d{1,9})", ref.strip())
    loan = await models.Loan.get_or_none(request_id=int(m.group(1))) if m else None
    if loan is None:
        raise UserError(f"There is no node loan {ref}. Say `my loans` to see yours.")
    return loan


def _names(text: str) -> list[str]:
    out: list[str] = []
    for name in text.replace(",", " ").split():
        if name not in out:
            out.append(name)
    return out
