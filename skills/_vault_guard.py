"""The vault's inbound guard: seal the pasted answer, refuse secrets anywhere else.

A helper of ``skills/credentials.py`` (re-imported with it on ``reload skills``). The guard runs
before routing, so routing, the NLU, conversation state, the audit log and the log files never
see a pasted value; which message *is* the answer it asks the router (``pending_followup``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.context import Context
from bot.errors import UserError
from bot.events import Message, PostedRef
from bot.middleware import Next
from bot.router import is_cancel, pending_followup
from credentials import detect
from credentials.errors import InvalidSecret, VaultError
from credentials.vault import VAULT, Vault

log = logging.getLogger(__name__)

PASTE = "vault.paste"
PLACEHOLDER = "[secret sealed by the vault]"
UNSEALED = (
    "I couldn't seal that: the vault's keys are not in order, so I stored nothing. "
    "An admin can see why in my log."
)


def _scrub(message: Message) -> None:
    """Nothing after this point sees the text: not routing, NLU, audit or an adapter's raw event."""
    message.text = PLACEHOLDER
    message.raw = None


async def _try_delete(ctx: Context, message: Message) -> bool:
    if message.id is None:
        return False
    try:
        await ctx.adapter.delete(
            PostedRef(ctx.platform, message.channel, message.id, message.thread)
        )
    except Exception as exc:  # no permission, platform without deletion, already gone
        log.info(
            "vault: could not delete a message carrying a secret in %s: %s",
            message.channel,
            type(exc).__name__,
        )
        return False
    return True


def _clean(text: str) -> str:
    """The pasted value without surrounding blanks, quotes or Markdown code fences."""
    value = text.strip()
    fence = re.fullmatch(r"```[\w-]*\n?(.*?)\n?```", value, re.DOTALL)
    if fence:
        value = fence.group(1).strip()
    elif len(value) > 1 and value[0] == value[-1] and value[0] in "`'\"":
        value = value[1:-1].strip()
    return value


SENTENCE = (
    "That reads like a sentence, not a token, so I didn't store it (and it is not kept "
    "anywhere). If it really is the secret, paste it inside `backticks`."
)


#: words people talk with and passphrases rarely have; two of them in a reply mean talking
_TALK = frozenset(
    [
        "i",
        "you",
        "me",
        "my",
        "your",
        "the",
        "a",
        "an",
        "to",
        "is",
        "it",
        "no",
        "not",
        "yes",
        "want",
        "wanted",
        "please",
        "can",
        "could",
        "do",
        "what",
        "show",
        "see",
        "and",
        "of",
        "for",
        "that",
        "this",
        "how",
        "why",
    ]
)


def reads_like_a_sentence(value: str) -> bool:
    """Several words with the small words of speech, which detection does not take for a
    credential: someone talking ("no I wanted to SEE alice's token"), not pasting. A passphrase
    ("correct horse battery staple") is sealed as before."""
    words = value.lower().split(None, 40)
    if len(words) < 3 or detect.looks_secret(value) is not None:
        return False
    return sum(w.strip(".,!?'\"") in _TALK for w in words) >= 2


def takes_paste(ctx: Context) -> bool:
    """The paste follow-up's ``accepts``: in the DM, anything but a command; and anything that
    looks like a secret, command or not (a secret is never run, only sealed)."""
    text = ctx.text.strip()
    return ctx.direct and (
        text == PLACEHOLDER
        or detect.looks_secret(text) is not None
        or ctx.app.registry.match_command(text) is None
    )


def _late_paste(ctx: Context) -> bool:
    """After the question expired: one word the paste follow-up would have taken."""
    text = ctx.text.strip()
    return (
        bool(text)
        and not any(c.isspace() for c in text)
        and not is_cancel(text)
        and takes_paste(ctx)
    )


async def guard(ctx: Context, call_next: Next) -> None:
    """Inbound middleware: seal pasted answers, refuse secrets anywhere else."""
    event = ctx.event
    if not isinstance(event, Message):
        await call_next(ctx)
        return
    vault = ctx.app.services.get(VAULT)
    conversations = ctx.app.conversations
    followup = pending_followup(ctx)  # what the router will route this message to
    state = ctx.state
    if followup is not None and followup.key == PASTE and state is not None:
        if vault is None:
            _scrub(event)
            await conversations.clear(event.conversation_key)
            await ctx.reply(
                "The vault isn't available right now, so I didn't keep what you "
                "sent. An admin can see why in my log; try again later."
            )
            return
        await _seal_answer(ctx, event, vault, state)
        await call_next(ctx)  # routes to the follow-up with the placeholder
        return
    finding = detect.looks_secret(event.text)
    if event.direct:
        late = conversations.expired(event.conversation_key)
        if (
            late is not None
            and late.get("followup") == PASTE
            and (finding is not None or _late_paste(ctx))
        ):
            _scrub(event)
            await conversations.clear(event.conversation_key)
            await ctx.reply(
                "I stopped waiting for your secret a while ago, so I didn't keep what "
                "you just sent. Say `store my <service> token` to start again."
            )
            return
        if finding is None:
            await call_next(ctx)
            return
        _scrub(event)
        await _try_delete(ctx, event)
        ctx.app.audit.record(
            ctx.user_key, "vault.refused", "dm", "refused", looks_like=finding.kind
        )
        await ctx.reply(
            f"That looks like {finding.kind}, so I didn't keep it or pass it on. To "
            "store a secret safely, say `store my <service> token` (for example "
            "`store my openstack token`) and paste it when I ask."
        )
        return
    if finding is None or (vault is not None and not vault.settings.channel_guard):
        await call_next(ctx)
        return
    _scrub(event)
    deleted = await _try_delete(ctx, event)
    ctx.app.audit.record(
        ctx.user_key,
        "vault.refused",
        event.channel,
        "refused",
        looks_like=finding.kind,
        deleted=deleted,
    )
    where = "and I deleted it" if deleted else "but I couldn't delete it, so please do"
    await ctx.reply_private(
        f"Your message in {event.channel} looked like it contained {finding.kind}. I did not "
        f"read or keep it, {where}. Anyone in that channel may have seen it, so revoke it now "
        "at the service that issued it and make a new one. To store a secret safely, DM me "
        "`store my <service> token` and paste it in that DM when I ask."
    )


async def _seal_answer(ctx: Context, event: Message, vault: Vault, state: dict[str, Any]) -> None:
    """Seal the DM answer straight into the vault; the conversation keeps only the outcome."""
    value = _clean(event.text)
    quoted = value != event.text.strip()  # in backticks, quotes or a code block: meant as is
    _scrub(event)
    await _try_delete(ctx, event)
    data = dict(state.get("data") or {})
    if not quoted and reads_like_a_sentence(value):
        del value  # not sealed, not kept: the person is asked to paste the value itself
        data["outcome"] = {"error": SENTENCE}
        await ctx.app.conversations.save(event.conversation_key, {"followup": PASTE, "data": data})
        return
    try:
        info = await vault.store(
            ctx.user_key, data.get("name", ""), value, provider=data.get("provider")
        )
    except InvalidSecret as exc:
        outcome: dict[str, Any] = {"error": str(exc)}
    except VaultError as exc:  # keys broken: asking again would not help
        log.error("vault: sealing a pasted secret failed: %s", type(exc).__name__)
        outcome = {"failed": str(exc) if isinstance(exc, UserError) else UNSEALED}
    else:
        outcome = {"stored": info.name, "version": info.version}
    del value
    data["outcome"] = outcome
    await ctx.app.conversations.save(event.conversation_key, {"followup": PASTE, "data": data})
