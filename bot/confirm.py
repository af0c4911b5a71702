"""Nothing changes because the model guessed: a state change the NLU inferred is restated, and
only an explicit yes from the same person carries it out.

Exact commands (``approve REQ-10``) act at once. An intent handler that changes something asks
``await confirm_first(ctx, "Approve REQ-10 — 7 TB on /project/astro for alice")`` first: for a
command it returns True; for a plain-language turn it posts the restatement with Yes/No (numbered
choices in the shell) and returns False — the handler stops. A yes from the same person, typed or
clicked, runs the same intent again on the original message, this time confirmed. A question, a
hedge, a negation or undo phrasing ("should I approve REQ-10?", "let me think about REQ-4",
"don't approve REQ-12 yet", "undo the approval of REQ-4") never acts and is not offered either.
"""

from __future__ import annotations

import re
from typing import Any

from bot.checks import allowed
from bot.context import Context
from bot.events import Choice, Message
from bot.skill import Skill

skill = Skill("confirm", "Restates what the model understood before anything changes.")

FOLLOWUP = "core.confirm"
YES_ACTION = "core.confirm.yes"
NO_ACTION = "core.confirm.no"
YES = frozenset(
    {"yes", "y", "yep", "yup", "yea", "yeah", "sure", "ok", "okay", "confirm", "do it", "go ahead"}
)
NO = frozenset({"no", "n", "nope", "cancel", "don't", "do not", "stop"})

#: words that make a message a question, a maybe, a "no" or an undo rather than a decision
_UNSURE = re.compile(
    r"\?\s*$|^(?:should|shall|can|could|would|may|must|do|does|did|is|are|was|will|why|how|what"
    r"|who|when)\b|\b(?:let\s+me\s+think|think(?:ing)?\s+about|not\s+sure|unsure|maybe|perhaps"
    r"|later|yet|tomorrow|wait(?:ing)?|hold\s+(?:on|off)|don['’]?t|do\s+not|never|not|undo"
    r"|revert|reverse|take\s+back|un-?approve|history|log\s+of)\b",
    re.IGNORECASE,
)


def unsure(text: str) -> bool:
    """A question, hedge, negation or undo: never a decision to act on."""
    return _UNSURE.search(text[:500]) is not None


async def confirm_first(ctx: Context, summary: str, *, command: str = "") -> bool:
    """True when the handler may act now: an exact command, or a plain-language turn the
    person has confirmed. Otherwise asks (or, for a question or a maybe, explains) and
    returns False."""
    spec = ctx.spec
    if spec is None or spec.kind != "intent" or ctx.confirmed:
        return True
    hint = f" Say `{command}` when you've decided." if command else ""
    if unsure(ctx.text):
        await ctx.reply(f"I won't act on a question or a maybe, so nothing changed.{hint}")
        return False
    data: dict[str, Any] = {"intent": spec.key, "text": ctx.text, "summary": summary}
    if ctx.parse is not None:
        data["parse"] = ctx.parse.to_rasa()
    await ctx.expect(FOLLOWUP, data)
    await ctx.reply(
        f"{summary}?",
        choices=[Choice("Yes", YES_ACTION, style="primary"), Choice("No", NO_ACTION)],
    )
    return False


def is_yes_or_no(ctx: Context) -> bool:
    """A typed answer to a Yes/No question (for ``accepts=`` of any skill's yes/no follow-up)."""
    return _word(ctx) in YES | NO


def said_yes(ctx: Context) -> bool:
    return _word(ctx) in YES


def _word(ctx: Context) -> str:
    return ctx.text.strip().lower().rstrip(".!")


@skill.followup(FOLLOWUP, accepts=is_yes_or_no, cancelled="Nothing changed.")
async def answered(ctx: Context) -> None:
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
    if not state or state.get("followup") != FOLLOWUP:
        return None
    return dict(state.get("data") or {})


async def _drop(ctx: Context) -> None:
    if _pending(ctx) is None:
        await ctx.reply_private("That question has expired; nothing changed.")
        return
    await ctx.done()
    await ctx.reply("OK, I left it as it was. Nothing changed.")


async def _carry_out(ctx: Context) -> None:
    """Run the intent again on the original message, confirmed, with today's permissions."""
    from nlu import ParseResult

    data = _pending(ctx)
    if data is None:
        await ctx.reply_private("That question has expired; nothing changed. Ask me again.")
        return
    await ctx.done()
    ev = ctx.event
    message = Message(
        ev.platform,
        ev.user_id,
        ev.user_name,
        ev.channel,
        str(data.get("text", "")),
        direct=ev.direct,
        mentioned=not ev.direct,
        thread=ev.thread,
        time=ev.time,
    )
    turn = Context(ctx.app, ctx.adapter, message)
    turn.confirmed = True
    if data.get("parse"):
        turn.parse = ParseResult.from_rasa(data["parse"])
    spec = ctx.app.registry.resolve_intent(str(data.get("intent", "")), turn)
    if spec is None:
        await ctx.reply("I can't do that any more (it was switched off meanwhile).")
        return
    turn.spec = spec
    if not allowed(spec.checks, turn):
        await ctx.reply_private("You may no longer do that, so nothing changed.")
        return
    await spec.func(turn)
