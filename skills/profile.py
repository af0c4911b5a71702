"""Your profile: the e-mail address notices about your requests go to, and the SSH public key
new VMs let you log in with.

A person sets their own (``my email is alice@uni.edu``), confirmed before it is saved; admins set
anyone's from the server (``quartermaster users set-email``). Without one, the address the chat
platform reports for them is used. ``my ssh key is ssh-ed25519 AAAA…`` is saved at once (a public
key is no secret, and replacing it changes no existing VM); see ``skills/_resources/keyring.py``.
"""

from __future__ import annotations

from bot.confirm import is_yes_or_no, said_yes
from bot.context import Context
from bot.emails import normalise_email
from bot.events import Choice
from bot.skill import Skill
from skills._providers.ssh_keys import BadKey, fingerprint, parse_public_key
from skills._resources import keyring

skill = Skill(
    "profile", "Your e-mail address for notices, and your SSH key for the VMs you create."
)

CONFIRM = "profile.email"
_ADDRESS = r"(?P<email><mailto:[^>\s]{1,400}>|[^\s<>]{1,320})"


@skill.command(
    r"(?:my\s+)?e-?mail(?:\s+address)?\s+is\s+"
    + _ADDRESS
    + r"|set\s+my\s+e-?mail(?:\s+address)?\s+to\s+"
    + _ADDRESS.replace("email", "email2"),
    help="my email is ADDRESS — where I send e-mail about your requests (I ask first)",
    examples=("my email is alice@uni.edu", "set my email to alice@uni.edu"),
)
async def set_email(ctx: Context) -> None:
    assert ctx.match is not None
    address = normalise_email(ctx.match.group("email") or ctx.match.group("email2"))
    await ctx.expect(CONFIRM, {"email": address})
    await ctx.reply(
        f"Set your e-mail address to {address}? Notices about your requests will go there.",
        choices=[
            Choice("Yes", f"{CONFIRM}.yes", style="primary"),
            Choice("No", f"{CONFIRM}.no"),
        ],
    )


@skill.followup(CONFIRM, accepts=is_yes_or_no, cancelled="Your e-mail address is unchanged.")
async def answer(ctx: Context) -> None:
    if said_yes(ctx):
        await _save(ctx)
    else:
        await _keep(ctx)


@skill.action(f"{CONFIRM}.yes")
async def yes_click(ctx: Context) -> None:
    await _save(ctx)


@skill.action(f"{CONFIRM}.no")
async def no_click(ctx: Context) -> None:
    await _keep(ctx)


async def _pending(ctx: Context) -> str | None:
    state = ctx.state
    if not state or state.get("followup") != CONFIRM:
        await ctx.reply_private("That question has expired; say `my email is …` again.")
        return None
    return str((state.get("data") or {}).get("email", "")) or None


async def _save(ctx: Context) -> None:
    address = await _pending(ctx)
    if address is None:
        return
    await ctx.done()
    user = await ctx.db_user()
    previous = user.email
    user.email = address
    await user.save(update_fields=["email"])
    ctx.app.audit.record(ctx.user_key, "user.email", ctx.user_key, changed=previous != address)
    await ctx.reply(f"Done: I'll send e-mail about your requests to {address}.")


async def _keep(ctx: Context) -> None:
    if await _pending(ctx) is None:
        return
    await ctx.done()
    user = await ctx.db_user()
    kept = user.email or "none set (I use what the chat platform knows, if anything)"
    await ctx.reply(f"OK, I left your e-mail address as it was: {kept}.")


@skill.command(
    r"(?:what(?:'|’)?s|what\s+is|show)\s+my\s+e-?mail(?:\s+address)?\??",
    help="what's my email — the address I send notices to",
    audit=False,
)
async def show_email(ctx: Context) -> None:
    user = await ctx.db_user()
    if user.email:
        await ctx.reply(f"I send e-mail about your requests to {user.email}.")
        return
    await ctx.reply(
        "You haven't given me an e-mail address; I use what the chat platform knows about you, "
        "if anything. Say `my email is you@example.org` to set one."
    )


# -- SSH public keys, for the VMs people create -------------------------------------------------
@skill.command(
    r"(?:my\s+)?(?:ssh|public)(?:\s+public)?\s+key\s+is\s+(?P<key>.{1,5000})"
    r"|(?:add|set)\s+my\s+(?:ssh|public)(?:\s+public)?\s+key(?:\s+to)?\s+(?P<key2>.{1,5000})",
    help="my ssh key is ssh-ed25519 AAAA… — the public key new VMs let you log in with",
    examples=("my ssh key is ssh-ed25519 AAAAC3Nza… alice@laptop",),
    audit=False,  # the audit record below names the fingerprint, not the whole line
)
async def set_ssh_key(ctx: Context) -> None:
    assert ctx.match is not None
    try:
        key = parse_public_key(ctx.match.group("key") or ctx.match.group("key2"))
    except BadKey as exc:
        await ctx.reply(str(exc))
        return
    await keyring.set_ssh_keys(ctx.app, ctx.user_key, [key])
    ctx.app.audit.record(ctx.user_key, "user.ssh_key", ctx.user_key, fingerprint=fingerprint(key))
    await ctx.reply(
        f"Saved your SSH key ({_describe(key)}). VMs you create from now on let you log in "
        "with it; VMs that exist already keep the keys they were made with."
    )


@skill.command(
    r"(?:what(?:'|’)?s|what\s+(?:is|are)|show)\s+my\s+(?:ssh|public)(?:\s+public)?\s+keys?\??",
    help="what's my ssh key — the key new VMs get",
    audit=False,
)
async def show_ssh_key(ctx: Context) -> None:
    keys = await keyring.ssh_keys(ctx.app, ctx.user_key)
    if not keys:
        await ctx.reply(f"You have no SSH key on file. To add one, {keyring.HOW_TO_ADD}.")
        return
    await ctx.reply("New VMs get your SSH key " + ", ".join(_describe(k) for k in keys) + ".")


@skill.command(
    # "forget my ssh key" is the vault's (a secret named ssh): this one says "public"
    r"(?:forget|remove|delete)\s+my\s+(?:ssh\s+public|public\s+ssh|public)\s+keys?",
    help="forget my ssh public key — new VMs get no key",
)
async def forget_ssh_key(ctx: Context) -> None:
    await keyring.set_ssh_keys(ctx.app, ctx.user_key, [])
    await ctx.reply(
        "Done: I forgot your SSH key. VMs you create from now on get none (nobody can log in "
        "to them with ssh); existing VMs keep theirs."
    )


def _describe(key: str) -> str:
    kind, _blob, *comment = key.split(maxsplit=2)
    return " ".join([kind, fingerprint(key), *comment])
