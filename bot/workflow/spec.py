"""Request types as data: the schema of ``config/workflows/*.yml``, validated with pydantic.

A request type declares its typed fields (with the follow-up question for each), its states and
transitions, which roles may take each transition under which condition, who is tagged while a
request waits in a state, where it is posted and when to remind. See docs/workflows.md.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from bot.workflow.expr import Expr
from bot.workflow.fields import FIELD_TYPES, compare_value, display, parse_bound

FieldType = Literal["size", "integer", "path", "text", "choice", "date", "duration"]
assert set(FIELD_TYPES) == set(FieldType.__args__)  # type: ignore[attr-defined]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FieldSpec(_Model):
    """One typed field of a request, and how to ask for it."""

    name: str = ""
    type: FieldType = "text"
    label: str = ""
    question: str = ""
    help: str = ""
    required: bool = True
    required_when: str | None = Field(None, description="ask only when this condition holds")
    default: Any = None
    choices: list[str] = Field(default_factory=list)
    min: Any = None
    max: Any = None
    pattern: str | None = None
    pattern_hint: str | None = None
    max_length: int | None = Field(None, ge=1)
    future: bool = False
    entity: str | None = Field(None, description="NLU entity that fills this field")
    _min: Any = PrivateAttr(None)
    _max: Any = PrivateAttr(None)

    @model_validator(mode="after")
    def _bounds(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice field needs a non-empty 'choices' list")
        self._min = parse_bound(self.type, self.min) if self.min is not None else None
        self._max = parse_bound(self.type, self.max) if self.max is not None else None
        return self

    @property
    def min_value(self) -> Any:
        return self._min

    @property
    def max_value(self) -> Any:
        return self._max

    @property
    def min_display(self) -> str:
        return self._bound_display(self.min, self._min)

    @property
    def max_display(self) -> str:
        return self._bound_display(self.max, self._max)

    def _bound_display(self, raw: Any, value: Any) -> str:
        if self.type == "size":
            return display(self, value)
        return str(raw)

    def compare(self, value: Any) -> Any:
        return compare_value(self, value)


class Rule(_Model):
    """Who may take a transition, and on which condition."""

    roles: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    requester: bool = Field(False, description="the requester may take it")
    when: str | None = None
    because: str | None = Field(None, description="why the condition exists, shown on refusal")


class TransitionSpec(_Model):
    label: str = ""
    from_: list[str] = Field(default_factory=list, alias="from")
    to: str
    allow: list[Rule] = Field(default_factory=list)
    comment: Literal["none", "optional", "required"] = "optional"
    style: Literal["default", "primary", "danger"] = "default"
    verbs: list[str] = Field(default_factory=list, description="other words for it in text")
    past: str = Field("", description="past tense for messages, e.g. 'approved'")

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Tag(_Model):
    """People tagged while a request waits in a state: by role and/or by explicit user key."""

    roles: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    when: str | None = None


class StateSpec(_Model):
    label: str = ""
    terminal: bool = False
    tag: list[Tag] = Field(default_factory=list)
    remind_after: str | None = Field(None, description="duration, e.g. '2 days' or P2D")
    _remind_seconds: int | None = PrivateAttr(None)

    @property
    def remind_seconds(self) -> int | None:
        return self._remind_seconds


class RequestType(_Model):
    """One kind of request, after inheritance has been applied."""

    name: str
    title: str = ""
    description: str = ""
    extends: str | None = None
    intent: str | None = Field(None, description="the NLU intent that starts this type")
    keywords: list[str] = Field(default_factory=list, description="words that pick this type")
    aliases: list[str] = Field(default_factory=list, description="names for 'request <name>'")
    channel: str = "helpdesk"
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    states: dict[str, StateSpec]
    initial: str = "submitted"
    completed: str = Field("completed", description="the state that counts as done in stats")
    transitions: dict[str, TransitionSpec] = Field(default_factory=dict)
    on_enter: dict[str, list[str]] = Field(
        default_factory=dict, description="state -> actions run when a request enters it"
    )
    self_approval: bool = Field(
        False,
        description="may the person a request is for, or who filed it, also approve or "
        "complete it through their role (separation of duties when false)",
    )
    source: str = Field("", exclude=True)
    _exprs: dict[str, Expr] = PrivateAttr(default_factory=dict)

    @field_validator("on_enter", mode="before")
    @classmethod
    def _actions_one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value

    def expr(self, source: str) -> Expr:
        """The compiled expression (compiled and checked when the type loaded)."""
        found = self._exprs.get(source)
        if found is None:
            found = self._exprs[source] = Expr(source)
        return found

    def values_for_conditions(self, data: dict[str, Any]) -> dict[str, Any]:
        """Field values as conditions see them (sizes in bytes, durations in seconds)."""
        return {name: spec.compare(data.get(name)) for name, spec in self.fields.items()}

    def test(self, source: str | None, data: dict[str, Any]) -> bool:
        if not source:
            return True
        return self.expr(source).test(self.values_for_conditions(data))

    def needed(self, name: str, data: dict[str, Any]) -> bool:
        spec = self.fields[name]
        if spec.required:
            return True
        return bool(spec.required_when) and self.test(spec.required_when, data)

    def is_open(self, state: str) -> bool:
        found = self.states.get(state)
        return found is not None and not found.terminal

    def transitions_from(self, state: str) -> list[tuple[str, TransitionSpec]]:
        return [(n, t) for n, t in self.transitions.items() if not t.from_ or state in t.from_]

    def find_transition(self, word: str) -> str | None:
        word = word.lower()
        for name, spec in self.transitions.items():
            if word == name.lower() or word in (v.lower() for v in spec.verbs):
                return name
        return None

    def state_label(self, state: str) -> str:
        found = self.states.get(state)
        return (found.label if found and found.label else state).strip()
