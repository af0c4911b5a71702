"""The typed parse result: Rasa JSON only at the wire, read back exactly, refused when malformed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nlu import Entity, IntentScore, ParseResult
from nlu.embedded import EmbeddedParser


def test_a_parse_is_typed_and_its_wire_form_round_trips(parser: EmbeddedParser) -> None:
    result = parser.parse_sync("drain c[001-003] for 2 weeks")
    assert isinstance(result.intent, IntentScore)
    assert all(isinstance(e, Entity) for e in result.entities)
    assert result.values("node") == [["c001", "c002", "c003"]]
    wire = json.dumps(result.to_rasa(), ensure_ascii=False)
    assert ParseResult.from_rasa(json.loads(wire)) == result
    with pytest.raises(AttributeError):
        result.intent.name = "greet"  # type: ignore[misc]


def test_wire_form_matches_the_documented_json() -> None:
    result = ParseResult(
        "drain c1",
        IntentScore("node_action", 0.9),
        (IntentScore("node_action", 0.9), IntentScore("greet", 0.1)),
        (Entity("node", 6, 8, ["c1"], "CRFEntityExtractor"),),
    )
    assert json.dumps(result.to_rasa()) == (
        '{"text": "drain c1", "intent": {"name": "node_action", "confidence": 0.9}, '
        '"intent_ranking": [{"name": "node_action", "confidence": 0.9}, '
        '{"name": "greet", "confidence": 0.1}], "entities": [{"entity": "node", "start": 6, '
        '"end": 8, "value": ["c1"], "extractor": "CRFEntityExtractor"}]}'
    )
    assert not result.is_fallback


def test_rasa_extras_are_ignored_and_a_missing_extractor_is_rasa() -> None:
    raw = {
        "entity": "size",
        "start": 0,
        "end": 3,
        "value": "5TB",
        "confidence_entity": 0.9,
        "role": None,
    }
    assert Entity.from_rasa(raw) == Entity("size", 0, 3, "5TB", "rasa")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"intent": {"name": "x", "confidence": 1}}, "text"),
        ({"text": "t", "intent": None}, "intent"),
        ({"text": "t", "intent": {"name": "x"}}, "confidence"),
        ({"text": "t", "intent": {"name": "x", "confidence": True}}, "confidence"),
        (
            {"text": "t", "intent": {"name": "x", "confidence": 1}, "entities": [{"entity": "a"}]},
            "start",
        ),
        ({"text": "t", "intent": {"name": "x", "confidence": 1}, "entities": ["a"]}, "mapping"),
    ],
)
def test_malformed_input_names_the_part(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ParseResult.from_rasa(raw)
