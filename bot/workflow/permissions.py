"""Who may move a request: the workflow's ``allow`` rules, plus separation of duties.

The type's rules say which roles (or people, or the requester) may take a transition under which
conditions. On top of them, unless the type sets ``self_approval``, the person a request is for
and the person who filed it take a step only through a ``requester: true`` rule — never through
their role, so nobody approves or completes their own request; an admin's explicit, audited
override is the only exception.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.errors import PermissionDenied
from bot.storage.models import Request, User

if TYPE_CHECKING:
    from bot.roles import RoleService
    from bot.workflow.engine import Workflows
    from bot.workflow.spec import RequestType

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


def decide(
    roles: RoleService,
    req: Request,
    spec: RequestType,
    name: str,
    user_key: str,
    *,
    override: bool = False,
) -> Decision:
    """May ``user_key`` take transition ``name`` now? If not, say why in plain words."""
    tr = spec.transitions.get(name)
    if tr is None:
        names = ", ".join(n for n, _ in spec.transitions_from(req.state)) or "none"
        return Decision(False, f"{req.ref} has no step {name!r} (possible now: {names}).")
    if tr.from_ and req.state not in tr.from_:
        return Decision(
            False, f"{req.ref} is {spec.state_label(req.state)}, so it can't be {tr.past} now."
        )
    data = dict(req.fields_data)
    requester_key = req.requester.key if isinstance(req.requester, User) else ""
    party = None if spec.self_approval or override else party_of(req, user_key)
    conditions: list[str] = []
    needed: list[str] = []
    held_by_party = False
    for rule in tr.allow:
        as_requester = rule.requester and user_key == requester_key
        holds = (
            any(roles.has(user_key, r) for r in rule.roles)
            or user_key in rule.users
            or as_requester
        )
        needed += rule.roles
        if not holds:
            continue
        if party is not None and not as_requester:
            held_by_party = True  # their role would do, but not on their own request
            continue
        if spec.test(rule.when, data):
            return Decision(True)
        conditions.append(rule.because or f"it needs {rule.when}")
    if conditions:
        return Decision(False, f"You can't {name} {req.ref}: {'; '.join(conditions)}.")
    if held_by_party:
        return Decision(
            False,
            f"You can't {name} {req.ref}: {party}, so someone else has to {name} it "
            "(separation of duties).",
        )
    who = " or ".join(dict.fromkeys(needed)) or "a specific person"
    if any(rule.requester for rule in tr.allow):
        who = f"the requester or {who}" if needed else "the requester"
    have = ", ".join(sorted(roles.roles_of(user_key)))
    return Decision(False, f"You can't {name} {req.ref}: that needs {who}, and you have: {have}.")


def party_of(req: Request, user_key: str) -> str | None:
    """How ``user_key`` is a party to ``req`` ("it is for you" / "you filed it"), or None.

    Fails closed: a filer that was not loaded with the request counts as a party."""
    if isinstance(req.requester, User) and req.requester.key == user_key:
        return "it is for you"
    filer = req.filed_by
    if isinstance(filer, User):
        return "you filed it" if filer.key == user_key else None
    if req.filed_by_id is None or req.filed_by_id == req.requester_id:  # type: ignore[attr-defined]
        return None
    log.warning("%s: who filed it was not loaded; treating %s as a party", req.ref, user_key)
    return "you may have filed it"


def may_see(wf: Workflows, req: Request, user_key: str) -> bool:
    """Who may read a request in chat: the people it is for or by, whoever it waits on or is
    assigned to, and the ``see_all_requests`` group (the command line is for admins)."""
    if wf.app.roles.in_group(user_key, "see_all_requests"):
        return True
    if party_of(req, user_key) is not None or req.assignee == user_key:
        return True
    spec = wf.types.get(req.type)
    if spec is None:
        return False
    if user_key in wf.responsible(req, spec):
        return True
    return any(
        wf.decide(req, spec, name, user_key).allowed for name, _ in spec.transitions_from(req.state)
    )


async def visible(wf: Workflows, ref: str | int, user_key: str) -> Request:
    """``wf.get``, refused (privately, without the content) to someone who may not see it."""
    req = await wf.get(ref)
    if not may_see(wf, req, user_key):
        raise PermissionDenied(
            f"You can't see {req.ref}: a request is shown to the people it is for or by, "
            "whoever it waits on, and the helpdesk."
        )
    return req
