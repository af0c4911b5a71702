"""How a request looks in chat: the card (fields, state, people) and the transition choices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.bounds import clipped
from bot.events import Choice
from bot.storage.models import Request
from bot.workflow.fields import display
from bot.workflow.spec import RequestType

TRANSITION_ACTION = "workflow.transition"
#: a field value (a text field may hold 2,000 characters) and the last comment, as a card shows
#: them: every copy of a card is re-posted on each change, and `status` shows it again
VALUE_SHOWN = 600
LAST_SHOWN = 300


def field_lines(spec: RequestType, data: dict[str, Any]) -> list[str]:
    lines = []
    for name, field in spec.fields.items():
        value = data.get(name)
        if value is None and not spec.needed(name, data):
            continue
        lines.append(f"• {field.label}: {clipped(display(field, value), VALUE_SHOWN)}")
    return lines


def card(
    req: Request,
    spec: RequestType,
    *,
    requester: str,
    tagged: Sequence[str] = (),
    last: str | None = None,
    assignee: str | None = None,
) -> str:
    """The text of every posted copy of a request; regenerated after each change."""
    title = spec.title or spec.name
    if req.deleted:
        return f"~{req.ref} · {title}~ — deleted"
    lines = [f"*{req.ref} · {title}* — {spec.state_label(req.state)}", f"Requested by {requester}"]
    lines += field_lines(spec, dict(req.fields_data))
    if assignee:
        lines.append(f"Assigned to: {assignee}")
    if tagged and spec.is_open(req.state):
        lines.append(f"Waiting for: {' '.join(tagged)}")
    if last:
        lines.append(f"Last: {clipped(last, LAST_SHOWN)}")
    return "\n".join(lines)


def transition_choices(
    req: Request, spec: RequestType, *, requester_only: bool = False
) -> list[Choice]:
    """The transitions out of the current state, as buttons (numbered options in the shell).

    The requester's own copy offers only what a requester may take (e.g. Cancel)."""
    if req.deleted:
        return []
    out = []
    for name, tr in spec.transitions_from(req.state):
        if requester_only and not any(rule.requester for rule in tr.allow):
            continue
        out.append(Choice(tr.label, TRANSITION_ACTION, f"{req.id}:{name}", tr.style))
    return out


def summary(spec: RequestType, data: dict[str, Any]) -> str:
    lines = [f"Here's your {(spec.title or spec.name).lower()} request:"]
    lines += field_lines(spec, data)
    example = next(
        (
            f'"change the {field.label.lower()} to {display(field, data[name])}"'
            for name, field in spec.fields.items()
            if data.get(name) is not None and field.type != "text"
        ),
        None,
    )
    fix = f" — or correct a value, e.g. {example}" if example else " — or correct a value"
    lines.append(f"Shall I file it? (yes / no{fix})")
    return "\n".join(lines)
