"""Commands every user has: help (generated from what the skills declare), whoami, ping."""

from __future__ import annotations

from bot.bounds import quoted
from bot.checks import allowed
from bot.context import Context
from bot.skill import Skill

skill = Skill("core", "Basic commands: help, whoami, ping.")

EXAMPLES = (
    "I need 5TB more on /scratch/group/neuro",
    "please install gromacs 2023.3 on grace",
    "drain c[001-004] for maintenance",
)


def _visible(ctx: Context) -> list[tuple[str, str]]:
    """(usage, help) pairs this user may use: the handlers' checks in dry-run, so help shows
    exactly what the authorize middleware would let through."""
    rows = []
    for spec in ctx.app.registry.help_entries():
        if not allowed(spec.checks, ctx):
            continue
        usage = spec.help or ""
        head, sep, tail = usage.partition(" — ")
        if sep:
            rows.append((head, tail))
        else:  # no "usage — what" form: an example reads better than a pattern
            rows.append((spec.examples[0] if spec.examples else spec.key, usage))
    return rows


@skill.command(
    r"help(?:\s+(?P<topic>.+))?",
    help="help [topic] — what I can do for you",
    examples=("help", "help reload"),
    audit=False,
    interrupts=True,
)
@skill.intent("help", audit=False)
async def help_(ctx: Context) -> None:
    raw_topic = ctx.match.group("topic") if ctx.match else None
    topic = raw_topic.strip().lower() if raw_topic else ""
    rows = _visible(ctx)
    if topic:
        rows = [r for r in rows if topic in r[0].lower() or topic in r[1].lower()]
        if not rows:
            await ctx.reply(
                f"I have nothing about {quoted(topic, 40)}. Say `help` for everything I do."
            )
            return
    lines = ["Here's what I can do for you:"]
    lines += [f"• `{usage}` — {text}" if text else f"• `{usage}`" for usage, text in rows]
    if not topic and ctx.app.nlu_enabled:
        lines.append("You can also just tell me what you need in plain words, for example:")
        lines += [f"  “{e}”" for e in EXAMPLES]
    await ctx.reply("\n".join(lines))


@skill.command(r"ping", help="ping — check that I'm alive", audit=False)
async def ping(ctx: Context) -> None:
    await ctx.reply("pong")


@skill.command(r"who\s*am\s*i\??", help="whoami — your user id and roles", audit=False)
async def whoami(ctx: Context) -> None:
    roles = ", ".join(sorted(ctx.roles))
    await ctx.reply(f"You are {ctx.user_name} ({ctx.user_key}) with the roles: {roles}.")


_THANKS = ("thank", "thx", "thanks", "ty ", "cheers", "merci", "danke", "appreciate")


@skill.intent("greet", audit=False)
async def greet(ctx: Context) -> None:
    if any(word in f"{ctx.text.lower()} " for word in _THANKS):
        await ctx.reply(f"You're welcome, {ctx.user_name}!")
        return
    await ctx.reply(f"Hello {ctx.user_name}! Say `help` to see what I can do.")


#: what each intent of the NLU schema lets a user do, for "did you mean" suggestions
INTENT_DESCRIPTIONS = {
    "request_quota": "ask for more storage space or files (“I need 5TB more on /scratch/…”)",
    "request_software": "ask for software to be installed (“please install gromacs 2023.3”)",
    "provision_vm": "get virtual machines (“spin up 2 ubuntu VMs for a week”)",
    "node_action": "drain, resume, reboot or check nodes (“drain c[001-004]”)",
    "check_status": "check on a request, a resource or a node (“status of REQ-12”)",
    "list_resources": "list your requests and resources (“list my open requests”)",
    "release_resource": "cancel a request or give something back (“cancel REQ-12”)",
    "extend_loan": "keep a VM or a loan longer (“extend vm-12 by 2 weeks”)",
    "extend_walltime": "get more wall time for a running job (“add 12 hours to job 4412345”)",
    "store_credential": "store a token or key for me to use on your behalf",
    "approve_request": "approve a request (“approve REQ-12”)",
    "deny_request": "deny a request (“deny REQ-12 storage is full”)",
    "stats": "see request statistics (“request stats for last month”)",
}


SUGGEST_MIN = 0.01  # an intent below 1 % is noise, not a near miss
SUGGEST_RELATIVE = 0.25  # ... and so is one far behind the closest in-scope intent


def _suggestions(ctx: Context) -> list[str]:
    """The closest intents the NLU saw that some skill handles and this user may use.

    The model is usually sure a vague message is out of scope ("can u do sth about my storage":
    99 % fallback), so the in-scope intents are compared with each other, not with the fallback:
    the closest one counts from 1 %, the others when at least a quarter as likely as it."""
    if not ctx.parse:
        return []
    intents = ctx.app.registry.intents
    ranking = [r for r in ctx.parse.intent_ranking if r.name in intents]
    if not ranking:
        return []
    floor = max(SUGGEST_MIN, SUGGEST_RELATIVE * ranking[0].confidence)
    out: list[str] = []
    for ranked in ranking[:5]:
        spec = intents[ranked.name]
        if not allowed(spec.checks, ctx) or ranked.confidence < floor:
            continue
        text = INTENT_DESCRIPTIONS.get(ranked.name)
        if text and text not in out:
            out.append(text)
    return out[:3]


#: what the model saw in a message, said back to the person when no skill here handles it
_ENTITY_WORDS = ("node", "count", "size", "duration", "cluster_type", "software", "request_id")


def _understood_but_not_handled(ctx: Context) -> str | None:
    """The model is sure of an intent no skill of this site handles ("drain c[001-004]"):
    say what was understood and that it isn't set up here, not "I didn't understand"."""
    parse = ctx.parse
    if parse is None or parse.is_fallback or parse.intent.name in ctx.app.registry.intents:
        return None
    what = INTENT_DESCRIPTIONS.get(parse.intent.name)
    if what is None:
        return None
    details = [
        f"{e.entity.replace('_', ' ')} {_shown(e.value)}"
        for e in parse.entities
        if e.entity in _ENTITY_WORDS
    ]
    seen = f" ({'; '.join(details[:4])})" if details else ""
    return (
        f"I understood that you want to {what.split(' (“')[0]}{seen}, but this site hasn't "
        "set that up in me yet. Ask your helpdesk, or say `help` to see what I can do here."
    )


def _shown(value: object) -> str:
    if isinstance(value, list):
        items = [str(v) for v in value]
        return ", ".join(items) if len(items) <= 4 else f"{items[0]} … {items[-1]} ({len(items)})"
    return str(value)


@skill.fallback
async def fallback(ctx: Context) -> None:
    if ctx.app.nlu_enabled and ctx.parse is None and ctx.event.__class__.__name__ == "Message":
        await ctx.reply(
            "I can't understand free text right now (my language model is not "
            "available), but commands still work. Say `help` to see them."
        )
        return
    unhandled = _understood_but_not_handled(ctx)
    if unhandled is not None:
        await ctx.reply(unhandled)
        return
    hints = _suggestions(ctx)
    if hints:
        options = "\n".join(f"• {h}" for h in hints)
        await ctx.reply(
            f"I'm not sure what you mean. Did you want to:\n{options}\n"
            "Or say `help` to see everything I can do."
        )
        return
    await ctx.reply("Sorry, I didn't understand that. Say `help` to see what I can do.")
