"""Match, then handle: decide which handler a turn goes to, in a fixed and documented order.

Messages: "cancel" while a question is pending, then command patterns, then a pending follow-up,
then the NLU intent, then the fallback. Interactions: the action id of the clicked choice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.events import Message
from bot.skill import HandlerSpec

if TYPE_CHECKING:
    from bot.context import Context
    from bot.middleware import Next

CANCEL_WORDS = frozenset({"cancel", "stop", "abort", "never mind", "nevermind", "forget it",
                          "quit"})


async def _cancel(ctx: Context) -> None:
    await ctx.done()
    await ctx.reply("OK, cancelled. Nothing was filed.")


async def _nothing_to_cancel(ctx: Context) -> None:
    await ctx.reply("There's nothing in progress to cancel.")


async def _stale_choice(ctx: Context) -> None:
    await ctx.reply_private("That button belongs to something I no longer handle; "
                            "ask me again and I'll offer fresh choices.")


async def _default_fallback(ctx: Context) -> None:
    await ctx.reply("Sorry, I didn't understand that. Say `help` to see what I can do.")


def _builtin(key: str, func: object) -> HandlerSpec:
    return HandlerSpec("command", key, func, skill="builtin")


CANCEL = _builtin("cancel", _cancel)
NOTHING_TO_CANCEL = _builtin("cancel", _nothing_to_cancel)
STALE_CHOICE = _builtin("stale-choice", _stale_choice)
DEFAULT_FALLBACK = HandlerSpec("fallback", "*", _default_fallback, skill="builtin")


async def route(ctx: Context, call_next: Next) -> None:
    app = ctx.app
    registry = app.registry
    event = ctx.event
    if not isinstance(event, Message):
        ctx.spec = registry.actions.get(event.action, STALE_CHOICE)
        await call_next(ctx)
        return
    text = event.text.strip()
    state = app.conversations.peek(event.conversation_key)
    lowered = text.lower().rstrip(".!")
    if lowered in CANCEL_WORDS:
        ctx.spec = CANCEL if state else NOTHING_TO_CANCEL
        await call_next(ctx)
        return
    found = registry.match_command(text)
    if found is not None:
        ctx.spec, ctx.match = found
        await call_next(ctx)
        return
    if state is not None:
        spec = registry.followups.get(state.get("followup", ""))
        if spec is not None:
            ctx.spec = spec
            await call_next(ctx)
            return
    if app.nlu_enabled:
        ctx.parse = await app.parse(text, event.time)
        if ctx.parse is not None:
            intent = ctx.parse.intent.name
            spec = registry.intents.get(intent)
            if spec is not None:
                ctx.spec = spec
                await call_next(ctx)
                return
    ctx.spec = registry.fallback or DEFAULT_FALLBACK
    await call_next(ctx)
