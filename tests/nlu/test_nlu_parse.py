"""Parse results of the trained model: shape, offsets, intents, normalised entity values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from nlu import Parser, ParseResult
from nlu.embedded import EmbeddedParser

NOW = datetime(2026, 11, 18, 10, 0)  # a Wednesday


def entities(result: ParseResult) -> dict[str, Any]:
    return {e.entity: e.value for e in result.entities}


def test_parse_output_shape_and_offsets(parser: EmbeddedParser) -> None:
    text = "drain c[001-003] please"
    result = parser.parse_sync(text, NOW)
    assert list(result.to_rasa()) == ["text", "intent", "intent_ranking", "entities"]
    assert result.text == text
    assert result.intent.name == "node_action"
    assert 0.0 <= result.intent.confidence <= 1.0
    ranking = result.intent_ranking
    assert ranking[0].name == "node_action"
    assert [r.confidence for r in ranking] == sorted((r.confidence for r in ranking), reverse=True)
    assert result.to_rasa()["entities"] == [
        {
            "entity": "action",
            "start": 0,
            "end": 5,
            "value": "drain",
            "extractor": "CRFEntityExtractor",
        },
        {
            "entity": "node",
            "start": 6,
            "end": 16,
            "value": ["c001", "c002", "c003"],
            "extractor": "CRFEntityExtractor",
        },
    ]


def test_is_a_parser(parser: EmbeddedParser) -> None:
    assert isinstance(parser, Parser)


async def test_async_parse_matches_sync(parser: EmbeddedParser) -> None:
    text = "can I get 5TB more on /scratch/group/neuro?"
    assert await parser.parse(text, NOW) == parser.parse_sync(text, NOW)
    await parser.close()


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        (
            "can I get 5TB more on /scratch/group/neuro?",
            "request_quota",
            {"size": 5 * 10**12, "path": "/scratch/group/neuro"},
        ),
        (
            "need 2 million more inodes on $SCRATCH",
            "request_quota",
            {"file_count": 2_000_000, "path": "$SCRATCH"},
        ),
        (
            "please install Quantum ESPRESSO 7.2 on grace",
            "request_software",
            {"software": "quantum-espresso", "version": "7.2", "cluster": "grace"},
        ),
        (
            "spin up two ubuntu 22.04 VMs with m1.large for 2 weeks",
            "provision_vm",
            {"count": 2, "image": "ubuntu 22.04", "flavor": "m1.large", "duration": "P14D"},
        ),
        (
            "I need a vm with 8 cores and 32GB for a week",
            "provision_vm",
            {"flavor": {"vcpus": 8, "ram_bytes": 32 * 10**9}, "duration": "P7D"},
        ),
        (
            "set up a spark cluster for a month",
            "provision_vm",
            {"cluster_type": "spark", "duration": "P1M"},
        ),
        ("undrain wn0189", "node_action", {"action": "resume", "node": ["wn0189"]}),
        (
            "put gpu[05-06] back online",
            "node_action",
            {"node": ["gpu05", "gpu06"], "action": "online"},
        ),
        ("run a health check on c042", "node_action", {"action": "health_check", "node": ["c042"]}),
        ("what's the status of REQ-1042?", "check_status", {"request_id": "REQ-1042"}),
        ("is vm-12 still running?", "check_status", {"resource_id": "vm-12"}),
        ("cancel #88", "release_resource", {"request_id": "REQ-88"}),
        (
            "can I keep vm-12 for another month?",
            "extend_loan",
            {"resource_id": "vm-12", "duration": "P1M"},
        ),
        (
            "extend REQ-1042 until next friday",
            "extend_loan",
            {"request_id": "REQ-1042", "date": "2026-11-20"},
        ),
        (
            "keep c[001-002] until end of march",
            "extend_loan",
            {"node": ["c001", "c002"], "date": "2027-03-31"},
        ),
        (
            "job 4412345 needs 36 more hours",
            "extend_walltime",
            {"job_id": "4412345", "duration": "PT36H"},
        ),
        ("rotate my AWS key", "store_credential", {"provider": "aws"}),
        ("approve REQ-77", "approve_request", {"request_id": "REQ-77"}),
        ("reject REQ-78, no budget left", "deny_request", {"request_id": "REQ-78"}),
        ("show my pending requests", "list_resources", {}),
        ("how many requests did we close last month?", "stats", {}),
        ("what can you do?", "help", {}),
        ("thanks!", "greet", {}),
    ],
)
def test_intents_and_entities(
    parser: EmbeddedParser, text: str, intent: str, expected: dict[str, Any]
) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name == intent
    assert entities(result) == expected
    for ent in result.entities:
        assert result.text[ent.start : ent.end].strip() == result.text[ent.start : ent.end]


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather in paris tomorrow",
        "tell me a joke",
        "how do I write a for loop in bash",
        "",
        "   ",
        "🙂",
    ],
)
def test_out_of_scope_falls_back_with_ranking(parser: EmbeddedParser, text: str) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name == "nlu_fallback"
    ranking = result.intent_ranking
    assert ranking[0].name == "nlu_fallback"
    assert len(ranking) > 3 and all(r.name != "out_of_scope" for r in ranking)


@pytest.mark.parametrize(
    ("bare", "asked", "intent"),
    [
        ("#4512", "approve #4512", "approve_request"),
        ("gpu[11-14]", "drain gpu[11-14]", "node_action"),
        ("7.5 TB", "need 7.5 TB more on /scratch/lab", "request_quota"),
        ("REQ-6061?", "status of REQ-6061?", "check_status"),
        ("vm-311", "delete vm-311", "release_resource"),
    ],
)
def test_a_message_of_values_alone_is_no_request(
    parser: EmbeddedParser, bare: str, asked: str, intent: str
) -> None:
    """Outside a dialogue that asked for it, a bare value names no action."""
    assert parser.parse_sync(bare, NOW).intent.name == "nlu_fallback"
    assert parser.parse_sync(asked, NOW).intent.name == intent


def test_values_only_feature() -> None:
    from nlu.features import values_only
    from nlu.tokens import tokenize

    assert values_only(tokenize("c[001-004], 5TB?"), None)
    assert not values_only(tokenize("drain c[001-004]"), None)
    assert not values_only(tokenize("?"), None)
    assert not values_only(tokenize("👋 REQ-4"), None)
    assert values_only(tokenize("ubuntu 22.04"), ["B-image", "I-image"])


def test_threshold_setting_overrides_tuned_value(parser: EmbeddedParser) -> None:
    strict = EmbeddedParser(parser.model, threshold=1.01)
    assert strict.parse_sync("drain c001").intent.name == "nlu_fallback"
    lenient = EmbeddedParser(parser.model, threshold=0.0)
    assert lenient.parse_sync("drain c001").intent.name == "node_action"


def test_cluster_names_come_from_settings(parser: EmbeddedParser) -> None:
    text = "install lammps on terra please"
    assert "cluster" not in entities(parser.parse_sync(text))
    configured = EmbeddedParser(parser.model, clusters=["Terra"])
    assert entities(configured.parse_sync(text))["cluster"] == "Terra"


def test_long_and_odd_input_does_not_crash(parser: EmbeddedParser) -> None:
    parser.parse_sync("drain " + "c[001-002] " * 500)
    parser.parse_sync("[[[(( ]]] {{ }} \x00 \t\n REQ-")
    result = parser.parse_sync("drain c[1-9999999]")
    assert all(e.entity != "node" for e in result.entities)


def test_dates_resolve_against_message_time(parser: EmbeddedParser) -> None:
    text = "extend vm-3 until tomorrow"
    assert entities(parser.parse_sync(text, NOW))["date"] == "2026-11-19"
    assert entities(parser.parse_sync(text, datetime(2027, 1, 31)))["date"] == "2027-02-01"
