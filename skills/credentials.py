"""Chat flow of the credential vault: store, replace, list and delete your own secrets.

Secrets are only ever *typed into a DM*, as the answer to the bot's "paste your token" question.
The ``guard`` middleware (installed at setup, before routing) takes that answer out of the message,
seals it into the vault and leaves a placeholder, so routing, the NLU, conversation state, the
audit log and the log files never see it. Which message *is* the answer is not the guard's
decision: it asks the router (``pending_followup``), which applies the paste follow-up's own
``accepts`` after the fallbacks (cancel, help), exactly as it will route the message. In
channels it refuses anything that looks like a secret: the message is not handled, deleted where
the platform allows, and its author is told in private to revoke it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.context import Context
from bot.conversations import ConversationKey
from bot.errors import UserError
from bot.events import Choice, Message, PostedRef
from bot.logs import add_redactor
from bot.middleware import Next
from bot.router import is_cancel, pending_followup
from bot.scope import SkillScope
from bot.services import SECRETS
from bot.skill import Skill
from credentials import detect
from credentials.errors import InvalidSecret
from credentials.keys import load_keyring
from credentials.settings import vault_settings
from credentials.vault import VAULT, Vault, normalise_name

log = logging.getLogger(__name__)

skill = Skill("vault", "Keep your cloud tokens and API keys sealed, for me to use on your behalf.")

PASTE = "vault.paste"
PLACEHOLDER = "[secret sealed by the vault]"
_KIND = (
    r"(?P<kind>tokens?|keys?|secrets?|credentials?|creds|passwords?|api[ -]?keys?|"
    r"access[ -]?keys?|app(?:lication)?[ -]credentials?)"
)
_NOT_A_PROVIDER = r"(?!(?:my|a|an|the|new|this|that)\b)"


def _vault(ctx: Context) -> Vault:
    vault = ctx.app.services.get(VAULT)
    if vault is None:
        raise UserError("The vault isn't available right now; an admin can see why in my log.")
    return vault


# -- lifecycle -----------------------------------------------------------------------------------
@skill.setup
async def setup(scope: SkillScope) -> None:
    """Guard inbound text and redact logs first (fail closed), then create the vault service.

    Broken keys do not fail the setup: the guard must keep channels safe even then, so the vault
    service is simply absent and users are told it is unavailable."""
    add_redactor(detect.redact)
    scope.use(guard, overheard=True)
    try:
        settings = vault_settings(scope.settings.vault, scope.settings.source)
        keyring = load_keyring(settings)
    except Exception as exc:
        log.error("vault: not available: %s", exc)
        return
    vault = Vault(keyring, settings, audit=scope.app.audit)
    missing = sorted(set(await vault.keys_in_use()) - set(keyring.ids))
    if missing:
        log.error(
            "vault: data keys are wrapped by master key(s) %s, which %s does not hold; "
            "those secrets cannot be opened until the right key is configured",
            ", ".join(missing),
            keyring.source,
        )
    scope.provide(VAULT, vault)
    scope.provide(SECRETS, vault)  # what ctx.secret uses


# -- the inbound guard ---------------------------------------------------------------------------
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
    _scrub(event)
    await _try_delete(ctx, event)
    data = dict(state.get("data") or {})
    try:
        info = await vault.store(
            ctx.user_key, data.get("name", ""), value, provider=data.get("provider")
        )
    except InvalidSecret as exc:
        outcome: dict[str, Any] = {"error": str(exc)}
    else:
        outcome = {"stored": info.name, "version": info.version}
    del value
    data["outcome"] = outcome
    await ctx.app.conversations.save(event.conversation_key, {"followup": PASTE, "data": data})


# -- asking for a secret -------------------------------------------------------------------------
async def _ask_for_paste(ctx: Context, name: str, provider: str, *, replacing: bool) -> None:
    vault = _vault(ctx)
    name = normalise_name(name)
    provider = normalise_name(provider, "provider")
    existing = await vault.info(ctx.user_key, name)
    if replacing and existing is None:
        raise UserError(
            f"You have no secret called `{name}`. Say `store my {name} token` to add one."
        )
    lines = [
        f"Paste your {provider} {'secret' if name == provider else f'secret `{name}`'} "
        "as your next message here."
    ]
    if existing is not None:
        lines.append(
            f"It replaces the one you stored on {existing.updated_at:%Y-%m-%d} "
            f"(version {existing.version})."
        )
    lines.append(
        "I seal it in the vault straight away and never show it again, to anyone, "
        "admins included. Say `cancel` to stop."
    )
    question = " ".join(lines)
    data = {"name": name, "provider": provider, "replacing": existing is not None}
    if ctx.direct:
        await ctx.reply(question)
        await ctx.expect(PASTE, data)
        return
    ref = await ctx.dm(question)
    dm = ConversationKey(ctx.platform, ref.channel, None, ctx.user_id)
    await ctx.app.conversations.save(dm, {"followup": PASTE, "data": data})
    await ctx.reply("I've sent you a direct message: paste it there, never in a channel.")


@skill.followup(PASTE, accepts=takes_paste)
async def pasted(ctx: Context) -> None:
    data = dict((ctx.state or {}).get("data") or {})
    outcome = data.pop("outcome", None)
    if not outcome:  # only the guard can answer this question
        await ctx.done()
        raise UserError("I lost track of that; say `store my <service> token` again.")
    if "error" in outcome:
        await ctx.expect(PASTE, data)  # ask again, without the failed outcome
        await ctx.reply(f"{outcome['error']} Paste it again, or say `cancel`.")
        return
    await ctx.done()
    what = "Replaced" if outcome.get("version", 1) > 1 else "Stored"
    await ctx.reply(
        f"{what} your `{outcome['stored']}` secret (version {outcome['version']}), "
        "sealed in the vault. I won't show it to anyone, you included. If your chat "
        "app kept a copy of your message, delete it there."
    )


# -- commands ------------------------------------------------------------------------------------
@skill.command(
    r"(?:please\s+)?(?:store|save|add|keep)\s+(?:my\s+|a\s+|an\s+|the\s+)?(?:new\s+)?"
    r"(?:"
    + _NOT_A_PROVIDER
    + r"(?P<provider>[\w.-]+)\s+)?"
    + _KIND
    + r"(?:\s+(?:as|named|called)\s+(?P<name>[\w.-]+))?(?:\s+please)?",
    help="store my PROVIDER token [as NAME] — keep a token or key in the vault "
    "(I ask for it in a DM)",
    examples=("store my openstack token", "store my aws key as aws-prod"),
)
async def store(ctx: Context) -> None:
    assert ctx.match is not None
    provider = ctx.match.group("provider")
    if not provider:
        raise UserError("Which service is it for? Say for example `store my openstack token`.")
    provider = provider.lower()
    await _ask_for_paste(ctx, ctx.match.group("name") or provider, provider, replacing=False)


@skill.command(
    r"(?:replace|update|change|rotate|renew)\s+(?:my\s+|the\s+)?(?P<name>[\w.-]+)\s+" + _KIND,
    help="replace my NAME token — paste a new value for a stored secret",
)
async def replace(ctx: Context) -> None:
    assert ctx.match is not None
    name = normalise_name(ctx.match.group("name"))
    info = await _vault(ctx).info(ctx.user_key, name)
    await _ask_for_paste(ctx, name, info.provider if info else name, replacing=True)


@skill.command(
    r"vault(?:\s+list)?|(?:list\s+|show\s+)?my\s+(?:secrets|tokens|credentials|keys)"
    r"|list\s+(?:my\s+)?secrets",
    help="my secrets — what you keep in the vault (names and dates, never values)",
)
async def list_secrets(ctx: Context) -> None:
    infos = await _vault(ctx).list(ctx.user_key)
    if not infos:
        await ctx.reply_private(
            "You have no secrets in the vault. Say `store my openstack "
            "token` (or aws, github, ...) to add one."
        )
        return
    lines = ["Your secrets (values are never shown):"]
    for i in infos:
        used = f"last used {i.last_used_at:%Y-%m-%d %H:%M}" if i.last_used_at else "never used"
        lines.append(
            f"• `{i.name}` ({i.provider}) — stored {i.updated_at:%Y-%m-%d}, "
            f"version {i.version}, {used}"
        )
    await ctx.reply_private("\n".join(lines))


@skill.command(
    r"(?:delete|remove|forget|drop)\s+(?:my\s+|the\s+)?(?P<name>[\w.-]+)\s+" + _KIND,
    help="delete my NAME secret — remove a secret from the vault",
)
async def delete(ctx: Context) -> None:
    assert ctx.match is not None
    await _offer_delete(ctx, normalise_name(ctx.match.group("name")))


async def _offer_delete(ctx: Context, name: str) -> None:
    info = await _vault(ctx).info(ctx.user_key, name)
    if info is None:
        await ctx.reply_private(
            f"You have no secret called `{name}`, so there's nothing to "
            "delete. Say `my secrets` to see what you have."
        )
        return
    text = (
        f"Delete your `{name}` secret ({info.provider}, stored {info.updated_at:%Y-%m-%d})? "
        "Skills that use it will stop working for you until you store a new one."
    )
    choices = [Choice("Delete", "vault.delete", name, "danger"), Choice("Keep", "vault.keep")]
    if ctx.direct:
        await ctx.reply(text, choices=choices)
    else:
        await ctx.dm(text, choices=choices)
        await ctx.reply("I've sent you a direct message to confirm.")


@skill.action("vault.delete")
async def confirm_delete(ctx: Context) -> None:
    name = ctx.interaction.value
    if await _vault(ctx).delete(ctx.user_key, name):  # only ever the clicker's own secret
        await ctx.reply(f"Deleted your `{name}` secret.")
    else:
        await ctx.reply(f"You have no secret called `{name}` any more.")


@skill.action("vault.keep")
async def keep(ctx: Context) -> None:
    await ctx.reply("OK, I kept it.")


@skill.intent(
    "store_credential",
    help='store, replace or delete a secret in plain words — e.g. "save my openstack token"',
)
async def store_credential(ctx: Context) -> None:
    provider = ctx.entity("provider")
    words = set(re.findall(r"[a-z]+", ctx.text.lower()))
    if not provider:
        raise UserError(
            "Which service is it for? Say for example `store my openstack token`, "
            "`replace my aws key` or `delete my github token`."
        )
    provider = str(provider).lower()
    if words & {"delete", "remove", "forget", "drop", "revoke"}:
        await _offer_delete(ctx, normalise_name(provider))
        return
    replacing = bool(words & {"replace", "update", "change", "rotate", "renew", "new"})
    info = await _vault(ctx).info(ctx.user_key, provider)
    await _ask_for_paste(ctx, provider, provider, replacing=replacing and info is not None)
