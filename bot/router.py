"""Match, then handle: decide which handler a turn goes to, in a fixed and documented order.

Messages (after python-telegram-bot's ``ConversationHandler``: the active conversation first):

1. Fallbacks, which always win: a cancel word ("cancel", "never mind", …) ends the pending
   conversation (or says there is none); a command declared ``interrupts=True`` (``help``).
2. The pending conversation's follow-up, when its ``accepts(ctx)`` takes the message (a
   follow-up without ``accepts`` takes every message).
3. Command patterns, in declaration order: the first full match wins.
4. The NLU intent.
5. The fallback.

Interactions (button clicks): the action id of the clicked choice. A click belongs to the
clicking user's conversation where the choice was offered: the click's own conversation, or,
when the bot answered a channel message in a thread (``Adapter.reply``), the conversation of that
channel message; the context is re-targeted to it, so handlers answer it like a message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.conversations import ConversationKey
from bot.events import Message
from bot.skill import HandlerSpec

if TYPE_CHECKING:
    from bot.context import Context
    from bot.middleware import Next

CANCEL_WORDS = frozenset(
    {"cancel", "stop", "abort", "never mind", "nevermind", "forget it", "quit"}
)


async def _cancel(ctx: Context) -> None:
    pending = ctx.app.registry.followups.get(str((ctx.state or {}).get("followup", "")))
    await ctx.done()
    said = pending.cancelled if pending is not None else ""
    await ctx.reply(f"OK, cancelled. {said}".strip())


async def _nothing_to_cancel(ctx: Context) -> None:
    await ctx.reply("There's nothing in progress to cancel.")


async def _stale_choice(ctx: Context) -> None:
    await ctx.reply_private(
        "That button belongs to something I no longer handle; "
        "ask me again and I'll offer fresh choices."
    )


async def _default_fallback(ctx: Context) -> None:
    await ctx.reply("Sorry, I didn't understand that. Say `help` to see what I can do.")


def _builtin(key: str, func: object) -> HandlerSpec:
    return HandlerSpec("command", key, func, skill="builtin")


CANCEL = _builtin("cancel", _cancel)
NOTHING_TO_CANCEL = _builtin("cancel", _nothing_to_cancel)
STALE_CHOICE = _builtin("stale-choice", _stale_choice)
DEFAULT_FALLBACK = HandlerSpec("fallback", "*", _default_fallback, skill="builtin")


def is_cancel(text: str) -> bool:
    return text.strip().lower().rstrip(".!") in CANCEL_WORDS


def pending_followup(ctx: Context) -> HandlerSpec | None:
    """The follow-up this message goes to (steps 1 and 2 above), or None.

    Sync and cheap: inbound middleware that must know before routing whether a message is the
    answer to a pending question (the vault seals such answers) asks this, not its own rules."""
    event = ctx.event
    if not isinstance(event, Message):
        return None
    state = ctx.state
    if state is None or is_cancel(event.text):
        return None
    registry = ctx.app.registry
    if registry.match_command(event.text.strip(), interrupting=True) is not None:
        return None
    spec = registry.followups.get(str(state.get("followup", "")))
    if spec is None or (spec.accepts is not None and not spec.accepts(ctx)):
        return None
    return spec


def _join_conversation(ctx: Context) -> None:
    """Re-target a click to the clicking user's conversation that offered the choice."""
    event = ctx.event
    conversations = ctx.app.conversations
    if event.thread is None or conversations.peek(event.conversation_key) is not None:
        return
    parent = ConversationKey(event.platform, event.channel, None, event.user_id)
    if conversations.peek(parent) is not None:
        ctx.retarget(parent)


async def route(ctx: Context, call_next: Next) -> None:
    app = ctx.app
    registry = app.registry
    event = ctx.event
    if not isinstance(event, Message):
        _join_conversation(ctx)
        ctx.spec = registry.actions.get(event.action, STALE_CHOICE)
        await call_next(ctx)
        return
    text = event.text.strip()
    if is_cancel(text):
        ctx.spec = CANCEL if ctx.state is not None else NOTHING_TO_CANCEL
        await call_next(ctx)
        return
    found = registry.match_command(text, interrupting=True)
    if found is None:
        followup = pending_followup(ctx)
        if followup is not None:
            ctx.spec = followup
            await call_next(ctx)
            return
        found = registry.match_command(text)
    if found is not None:
        ctx.spec, ctx.match = found
        await call_next(ctx)
        return
    if app.nlu_enabled:
        if app.understanding.loading:  # the first start trains the model: say so, don't go quiet
            await ctx.reply(
                "One moment: I'm still learning to read free text (on a first start that takes "
                "about 10 seconds); I'll answer this as soon as I can. Commands work already — "
                "say `help`."
            )
        ctx.parse = await app.parse(text, event.time)
        if ctx.parse is not None:
            intent = ctx.parse.intent.name
            spec = registry.resolve_intent(intent, ctx)
            if spec is not None:
                ctx.spec = spec
                await call_next(ctx)
                return
    ctx.spec = registry.fallback or DEFAULT_FALLBACK
    await call_next(ctx)
