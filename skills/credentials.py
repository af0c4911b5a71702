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
from typing import TYPE_CHECKING

from bot.context import Context
from bot.conversations import ConversationKey
from bot.errors import UserError
from bot.events import Choice
from bot.logs import add_redactor
from bot.scope import SkillScope
from bot.services import SECRETS
from bot.skill import Skill
from credentials import detect
from credentials.errors import KeysLost
from credentials.notices import deliver_notices
from credentials.recovery import open_keyring
from credentials.settings import vault_settings
from credentials.vault import VAULT, Vault, normalise_name
from skills._vault_guard import PASTE, guard, takes_paste

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

skill = Skill("vault", "Keep your cloud tokens and API keys sealed, for me to use on your behalf.")

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
    service is simply absent and users are told it is unavailable. Lost keys (data keys wrapped
    by a master key nobody configured) refuse the start, before any platform connects."""
    add_redactor(detect.redact)
    scope.use(guard, overheard=True)
    try:
        settings = vault_settings(scope.settings.vault, scope.settings.source)
        keyring = await open_keyring(settings)
    except KeysLost as exc:
        log.error("%s", exc)
        refused = exc

        async def refuse() -> None:
            raise refused

        scope.add_startup_check(refuse)
        return
    except Exception as exc:
        log.error("vault: not available: %s", exc)
        return
    vault = Vault(keyring, settings, audit=scope.app.audit)
    scope.provide(VAULT, vault)
    scope.provide(SECRETS, vault)  # what ctx.secret uses


@skill.schedule(seconds=60, name="vault-notices")
async def notices(app: Application) -> None:
    """Tell owners whose secrets ``vault recover --retire-orphaned`` retired."""
    await deliver_notices(app)


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


@skill.followup(PASTE, accepts=takes_paste, cancelled="Nothing was stored.")
async def pasted(ctx: Context) -> None:
    data = dict((ctx.state or {}).get("data") or {})
    outcome = data.pop("outcome", None)
    if not outcome:  # only the guard can answer this question
        await ctx.done()
        raise UserError("I lost track of that; say `store my <service> token` again.")
    if "failed" in outcome:
        await ctx.done()
        await ctx.reply(f"{outcome['failed']} If your chat app kept a copy, delete it there.")
        return
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


_READ = frozenset({"show", "see", "read", "reveal", "display", "print", "view", "tell", "what"})
_STORE = frozenset(
    {"store", "save", "add", "put", "keep", "remember", "register", "upload", "paste", "set"}
    | {"replace", "update", "change", "rotate", "renew", "new", "here", "heres"}
)
_DELETE = frozenset({"delete", "remove", "forget", "drop", "revoke"})
NOBODY_READS = (
    "Nobody can read a stored secret in chat — not an admin, not its owner: I only use it on "
    "its owner's behalf, and every use is recorded. `my secrets` lists names and dates."
)


@skill.intent(
    "store_credential",
    help='store, replace or delete a secret in plain words — e.g. "save my openstack token"',
)
async def store_credential(ctx: Context) -> None:
    provider = ctx.entity("provider")
    words = set(re.findall(r"[a-z]+", ctx.text.lower()[:500]))
    if words & _READ and not words & (_STORE | _DELETE):  # "show me alice's openstack token"
        await ctx.reply(NOBODY_READS)
        return
    if not provider:
        raise UserError(
            "Which service is it for? Say for example `store my openstack token`, "
            "`replace my aws key` or `delete my github token`."
        )
    provider = str(provider).lower()
    if words & _DELETE:
        await _offer_delete(ctx, normalise_name(provider))
        return
    if not words & _STORE:  # a store dialogue starts only when storing is clearly asked for
        await ctx.reply(
            f"Do you want me to keep your {provider} secret for you? Say `store my {provider} "
            "token` and I'll ask for it in a direct message."
        )
        return
    replacing = bool(words & {"replace", "update", "change", "rotate", "renew", "new"})
    info = await _vault(ctx).info(ctx.user_key, provider)
    await _ask_for_paste(ctx, provider, provider, replacing=replacing and info is not None)
