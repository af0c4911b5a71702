"""Properties of the parsers on any text: they answer (a value or None / a clear refusal) and
never raise anything else; command patterns take any text."""

from __future__ import annotations

import contextlib
from datetime import datetime

import pytest
from hypothesis import given, settings

from bot.workflow import dialogue, search, stats
from bot.workflow.fields import FieldError
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
from tests.fuzz.strategies import user_text

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
