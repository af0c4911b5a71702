"""The ``vms:`` policy: what people may create on their own, what needs staff approval, and
what is never granted. Reasons are sentences, shown to the requester and the approvers."""

from __future__ import annotations

from bot.errors import UserError
from skills._resources.draft import Draft
from skills._resources.settings import VmSettings


def refuse_beyond_limits(draft: Draft, settings: VmSettings) -> None:
    """``UserError`` for what is never granted, even with approval."""
    if draft.count and draft.count > settings.hard_max_count:
        raise UserError(
            f"I create at most {settings.hard_max_count} VMs in one request; ask for fewer, or "
            "talk to the helpdesk about a larger project."
        )
    if draft.days and draft.days > settings.hard_max_days:
        raise UserError(f"VMs are lent for at most {settings.hard_max_days} days; ask for less.")


def approval_reasons(draft: Draft, settings: VmSettings) -> list[str]:
    """Why this draft needs staff approval (empty: the requester may create it now)."""
    reasons = []
    if draft.count and draft.count > settings.max_count:
        reasons.append(f"more than {settings.max_count} VMs at once")
    if draft.days and draft.days > settings.max_days:
        reasons.append(f"longer than {settings.max_days} days")
    if draft.flavor and draft.flavor in settings.costly_flavors:
        reasons.append(f"{draft.flavor} is a costly flavor")
    if draft.cpus and draft.cpus > settings.max_cpus:
        reasons.append(f"more than {settings.max_cpus} CPUs per VM")
    return reasons


def extension_needs_approval(remaining_days: float, settings: VmSettings) -> str | None:
    """Why keeping a VM ``remaining_days`` from now needs approval, or None."""
    if remaining_days > settings.max_days:
        return f"it would run more than {settings.max_days} days from now"
    return None
