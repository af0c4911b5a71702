"""Commands every user has: help (generated from what the skills declare), whoami, ping."""

from __future__ import annotations

from bot.context import Context
from bot.skill import Skill

skill = Skill("core", "Basic commands: help, whoami, ping.")

EXAMPLES = (
    "I need 5TB more on /scratch/group/neuro",
    "please install gromacs 2023.3 on grace",
    "drain c[001-004] for maintenance",
)


def _visible(ctx: Context) -> list[tuple[str, str]]:
    """(usage, help) pairs this user may use: help shows only what authorisation would allow."""
    rows = []
    for spec in ctx.app.registry.help_entries():
        if not ctx.has_role(spec.role):
            continue
        usage = spec.help or ""
        head, sep, tail = usage.partition(" — ")
        rows.append((head, tail) if sep else (spec.key, usage))
    return rows


@skill.command(r"help(?:\s+(?P<topic>.+))?", help="help [topic] — what I can do for you",
               examples=("help", "help reload"), audit=False)
@skill.intent("help", audit=False)
async def help_(ctx: Context) -> None:
    raw_topic = ctx.match.group("topic") if ctx.match else None
    topic = raw_topic.strip().lower() if raw_topic else ""
    rows = _visible(ctx)
    if topic:
        rows = [r for r in rows if topic in r[0].lower() or topic in r[1].lower()]
        if not rows:
            await ctx.reply(f"I have nothing about {topic!r}. Say `help` for everything I do.")
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


@skill.intent("greet", audit=False)
async def greet(ctx: Context) -> None:
    await ctx.reply(f"Hello {ctx.user_name}! Say `help` to see what I can do.")


def _suggestions(ctx: Context) -> list[str]:
    if not ctx.parse:
        return []
    described = {s.key: (s.help or "").partition(" — ")[2] or s.key
                 for s in ctx.app.registry.intents.values() if s.help and ctx.has_role(s.role)}
    out = []
    for ranked in ctx.parse.get("intent_ranking", [])[:4]:
        name = ranked.get("name")
        if name in described and described[name] not in out:
            out.append(described[name])
    return out[:3]


@skill.fallback
async def fallback(ctx: Context) -> None:
    if ctx.app.nlu_enabled and ctx.parse is None and ctx.event.__class__.__name__ == "Message":
        await ctx.reply("I can't understand free text right now (my language model is not "
                        "available), but commands still work. Say `help` to see them.")
        return
    hints = _suggestions(ctx)
    if hints:
        options = "\n".join(f"• {h}" for h in hints)
        await ctx.reply(f"I'm not sure what you mean. Did you want to:\n{options}\n"
                        "Or say `help` to see everything I can do.")
        return
    await ctx.reply("Sorry, I didn't understand that. Say `help` to see what I can do.")
