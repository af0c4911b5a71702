"""Properties of the parsers on any text: they answer (a value or None / a clear refusal) and
never raise anything else; command patterns take any text."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.workflow import dialogue, search, stats
from bot.workflow.fields import (
    DURATION_MAX,
    INTEGER_MAX,
    PATH_MAX,
    SIZE_MAX,
    TEXT_MAX,
    FieldError,
    duration_seconds,
    parse_answer,
)
from bot.workflow.spec import FieldSpec
from nlu.normalise import (
    expand_hostlist,
    parse_count,
    parse_date,
    parse_duration,
    parse_job_id,
    parse_large_number,
    parse_request_id,
    parse_size,
)
from skills import admin, core, requests
from tests.fuzz.conftest import examples
from tests.fuzz.strategies import absurd_value, long_names, user_text

NOW = datetime(2026, 3, 2, 10, 0)
NORMALISERS = [
    parse_size,
    parse_count,
    parse_large_number,
    parse_duration,
    parse_request_id,
    parse_job_id,
    expand_hostlist,
    lambda text: parse_date(text, NOW),
]
PATTERNS = [s.pattern for m in (core, admin, requests) for s in m.skill.specs if s.pattern]


@pytest.mark.parametrize("normalise", NORMALISERS)
@settings(max_examples=examples(700))
@given(text=user_text)
def test_normalisers_answer_any_text(normalise, text: str) -> None:  # type: ignore[no-untyped-def]
    normalise(text)


@settings(max_examples=examples(1200))
@given(text=user_text)
def test_command_patterns_take_any_text(text: str) -> None:
    for pattern in PATTERNS:
        pattern.fullmatch(text.strip())


@settings(max_examples=examples(800))
@given(text=user_text)
def test_search_queries_and_periods_parse_or_refuse(text: str) -> None:
    search.parse_query(text, "test:alice")
    with contextlib.suppress(ValueError):  # the refusal users see
        stats.parse_period(text, NOW)


@settings(max_examples=examples(800))
@given(text=user_text)
def test_dialogue_corrections_parse_or_refuse(text: str, quota_spec) -> None:  # type: ignore[no-untyped-def]
    from bot.workflow.draft import Draft

    draft = Draft(quota_spec.name)
    try:
        dialogue.correction(quota_spec, draft, text, NOW)
        dialogue.fits(quota_spec, draft, text, NOW)
    except FieldError:
        pass  # the field is clear; the message says what is wrong


@pytest.mark.parametrize("kind", ["size", "integer", "duration", "date", "path", "text"])
@settings(max_examples=examples(300))
@given(text=st.one_of(absurd_value, long_names))
def test_field_answers_are_within_the_absolute_limits_or_refused_briefly(
    kind: str, text: str
) -> None:
    field = FieldSpec(name="f", type=kind, label="F")  # no limits of its own
    try:
        value = parse_answer(field, text, NOW)
    except FieldError as exc:
        assert len(str(exc)) < 300, str(exc)  # a sentence, never the input
        return
    if kind == "size":
        assert 0 < value <= SIZE_MAX
    elif kind == "integer":
        assert abs(value) <= INTEGER_MAX
    elif kind == "duration":
        assert (duration_seconds(value) or 0) <= DURATION_MAX
    elif kind == "path":
        assert len(value) <= PATH_MAX
    elif kind == "text":
        assert len(value) <= TEXT_MAX
