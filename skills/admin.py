"""Administration from chat: reload skills, and grant/revoke/list roles (admins only)."""

from __future__ import annotations

from bot import bounds
from bot.context import Context
from bot.errors import UserError
from bot.skill import Skill

skill = Skill("admin", "Reload skills and manage roles.")


@skill.command(
    r"reload(?:\s+(?:the\s+)?skills)?",
    role="admin",
    help="reload skills — re-import skill modules without restarting",
)
async def reload_skills(ctx: Context) -> None:
    report = await ctx.app.reload_skills()
    ctx.app.audit.record(
        ctx.user_key,
        "reload",
        "skills",
        "ok" if report.ok else "partial",
        loaded=report.loaded,
        failed=report.failed,
    )
    names = ", ".join(n.rsplit(".", 1)[-1] for n in report.loaded) or "none"
    lines = [f"Reloaded {len(report.loaded)} skill module(s): {names}."]
    for module, why in report.failed.items():
        kept = (
            " The previous version keeps running."
            if module in report.kept_previous
            else " It is not loaded."
        )
        lines.append(f"✗ {module} failed: {why}.{kept}")
    if report.removed:
        lines.append("Removed: " + ", ".join(report.removed) + ".")
    await ctx.reply("\n".join(lines))


def _subject(ctx: Context, who: str) -> str:
    who = who.strip()
    if who.lower() in {"me", "myself"}:
        return ctx.user_key
    if who.startswith("@"):
        who = who[1:]
    return bounds.user_id(who) if ":" in who else f"{ctx.platform}:{bounds.user_id(who)}"


@skill.command(
    r"grant\s+(?P<who>\S+)\s+(?:the\s+)?(?P<role>[\w-]+)(?:\s+role)?",
    role="admin",
    help="grant USER ROLE — give someone a role",
)
async def grant(ctx: Context) -> None:
    assert ctx.match is not None
    subject = _subject(ctx, ctx.match.group("who"))
    role = ctx.match.group("role")
    created = await ctx.app.roles.grant(subject, role, by=ctx.user_key)
    await ctx.app.audit.write(ctx.user_key, "role.grant", subject, role=role)
    await ctx.reply(
        f"{subject} now has the {role} role."
        if created
        else f"{subject} already had the {role} role."
    )


@skill.command(
    r"revoke\s+(?P<who>\S+)\s+(?:the\s+)?(?P<role>[\w-]+)(?:\s+role)?",
    role="admin",
    help="revoke USER ROLE — take a role away",
)
async def revoke(ctx: Context) -> None:
    assert ctx.match is not None
    subject = _subject(ctx, ctx.match.group("who"))
    role = ctx.match.group("role")
    if subject == ctx.user_key and role == "admin":
        raise UserError(
            "You can't revoke your own admin role from chat; use "
            "`quartermaster roles revoke` on the server if you mean it."
        )
    removed = await ctx.app.roles.revoke(subject, role)
    await ctx.app.audit.write(ctx.user_key, "role.revoke", subject, role=role)
    await ctx.reply(
        f"{subject} no longer has the {role} role."
        if removed
        else f"{subject} didn't have the {role} role."
    )


@skill.command(r"(?:list\s+)?roles", role="admin", help="roles — who holds which role")
async def list_roles(ctx: Context) -> None:
    listing = ctx.app.roles.listing()
    if not listing:
        await ctx.reply(f"Nobody has a special role; everyone is a {ctx.app.roles.default}.")
        return
    lines = [f"Everyone is a {ctx.app.roles.default}. Besides that:"]
    lines += [f"• {subject}: {', '.join(roles)}" for subject, roles in listing.items()]
    await ctx.reply("\n".join(bounds.fitted(lines, more="(`quartermaster roles list` has all)")))
