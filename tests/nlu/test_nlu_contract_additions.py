"""The model on the phrasings issues #12 and #15 added to the contract: decisions that must not
act, the `user` entity, loans and accounts, host names of every shape, and emoji.

The issue's own sentences are in the training data; each group also has wordings that are not,
so these tests show the kind of message is learnt, not the sentence."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from nlu import FALLBACK
from nlu.embedded import EmbeddedParser
from nlu.entities import is_host_name, parse_user
from nlu.guard import guarded, is_question
from nlu.tokens import tokenize

NOW = datetime(2026, 11, 14, 10, 0)
ACTING = {"approve_request", "deny_request"}


def _values(parser: EmbeddedParser, text: str) -> dict[str, Any]:
    result = parser.parse_sync(text, NOW)
    return {e.entity: e.value for e in result.entities}


@pytest.mark.parametrize(
    "text",
    [
        # questions about a decision
        "should I approve REQ-10?",
        "can I approve REQ-4?",
        "should we approve REQ-3480 or wait?",
        "am I even allowed to deny #912?",
        # undo and history
        "undo the approval of REQ-4",
        "history of REQ-11",
        "who approved REQ-3?",
        "please revert my approval of REQ-77",
        "who was it that denied REQ-1304?",
        # hedges
        "let me think about REQ-4",
        "not sure about REQ-9",
        "later",
        "I'll approve REQ-3 later",
        "need to think a bit more about REQ-2290",
        "I'm not sure about approving REQ-88 yet",
        # negations
        "don't approve REQ-12 yet, waiting on the PI",
        "do not deny REQ-5",
        "never approve REQ-7",
        "please do not approve REQ-5122 until I say so",
        "don't deny #640, the PI is sending the PO",
    ],
)
def test_questions_hedges_negations_and_undo_never_come_out_as_decisions(
    parser: EmbeddedParser, text: str
) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name not in ACTING, (text, result.intent)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("should I approve REQ-10?", "check_status"),
        ("history of REQ-11", "check_status"),
        ("who approved REQ-3?", "check_status"),
        ("undo the approval of REQ-4", "check_status"),
        ("let me think about REQ-4", FALLBACK),
        ("don't approve REQ-12 yet, waiting on the PI", FALLBACK),
        ("never approve REQ-7", FALLBACK),
    ],
)
def test_decision_look_alikes_get_the_intents_the_skills_route(
    parser: EmbeddedParser, text: str, intent: str
) -> None:
    """Questions and history phrasing show the request (check_status); hedges and negations do
    nothing (fallback)."""
    assert parser.parse_sync(text, NOW).intent.name == intent


@pytest.mark.parametrize(
    "text", ["approve REQ-10", "please deny REQ-12, the disk is full", "lgtm, approve REQ-4"]
)
def test_plain_decisions_are_still_understood(parser: EmbeddedParser, text: str) -> None:
    assert parser.parse_sync(text, NOW).intent.name in ACTING


@pytest.mark.parametrize(
    ("text", "intent", "user"),
    [
        ("please install cp2k on terra for @dave", "request_software", "dave"),
        (
            "open a ticket for carol, she needs 800GB on /project/carol",
            "request_quota",
            "carol",
        ),
        ("on behalf of jdoe, 2TB more on /project/neuro", "request_quota", "jdoe"),
        ("could you build gromacs for @m.rossi on grace", "request_software", "m.rossi"),
        ("<@U024BE7LH|dave> needs 3TB on /scratch/dave", "request_quota", "U024BE7LH"),
        ("please give bob access to project astro", "request_account", "bob"),
    ],
)
def test_the_person_a_request_is_for_is_a_user_entity(
    parser: EmbeddedParser, text: str, intent: str, user: str
) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name == intent
    assert result.values("user") == [user], result.entities


@pytest.mark.parametrize(
    "text",
    [
        "I need 5TB on /project/astro for my group",
        "install gromacs for our lab",
        "can I keep vm-12 for another month?",
        "please install lammps for the summer school",
    ],
)
def test_groups_purposes_and_durations_after_for_are_not_users(
    parser: EmbeddedParser, text: str
) -> None:
    assert "user" not in _values(parser, text)


def test_user_values_drop_the_at_sign_and_refuse_pronouns() -> None:
    assert parse_user("@dave") == "dave"
    assert parse_user("<@U123|dave>") == "U123"
    assert parse_user("li.wei") == "li.wei"
    assert parse_user("me") is None
    assert parse_user("@") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "can I borrow 4 gpu nodes for a month",
            {"count": 4, "cluster_type": "gpu", "duration": "P1M"},
        ),
        (
            "reserve gpu-a100-03 from march 1 to april 30 for alice",
            {"node": ["gpu-a100-03"], "user": "alice"},
        ),
        ("could our group borrow two arm nodes for 3 weeks?", {"duration": "P21D"}),
        ("I'd like to reserve cn-r12-07 until end of may", {"node": ["cn-r12-07"]}),
    ],
)
def test_borrowing_nodes_is_a_loan_request(
    parser: EmbeddedParser, text: str, expected: dict[str, Any]
) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name == "request_loan", result.intent_ranking[:3]
    values = _values(parser, text)
    for entity, value in expected.items():
        assert values.get(entity) == value, result.entities


@pytest.mark.parametrize(
    "text",
    [
        "I'm a new postdoc and need an account on terra",
        "please give bob access to project astro",
        "hello, I'm starting a PhD in the physics group and need a login on the cluster",
        "can my new student get an account on grace?",
    ],
)
def test_accounts_and_project_access_are_account_requests(
    parser: EmbeddedParser, text: str
) -> None:
    assert parser.parse_sync(text, NOW).intent.name == "request_account"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("extend my loan of gpu-a100-03 by 2 weeks", "extend_loan"),
        ("give back cn-r12-07, I'm done with it", "release_resource"),
        ("spin up 2 VMs with ubuntu for a week", "provision_vm"),
        ("drain gpu-a100-03", "node_action"),
        ("I forgot my password", FALLBACK),
        ("can I borrow a laptop charger", FALLBACK),
    ],
)
def test_loan_and_account_look_alikes_keep_their_intents(
    parser: EmbeddedParser, text: str, intent: str
) -> None:
    assert parser.parse_sync(text, NOW).intent.name == intent


@pytest.mark.parametrize(
    ("text", "nodes"),
    [
        ("drain gpu-a100-03", ["gpu-a100-03"]),
        ("reboot cn-r12-07 please", ["cn-r12-07"]),
        ("undrain wn0189", ["wn0189"]),
        ("put login2 back online", ["login2"]),
        ("drain c[001-003]", ["c001", "c002", "c003"]),
        ("drain node[1,3,5-7]", ["node1", "node3", "node5", "node6", "node7"]),
        ("release gpu-a100-03", ["gpu-a100-03"]),
        ("is gpu-h100-02 free next week?", ["gpu-h100-02"]),
    ],
)
def test_host_names_of_every_shape_are_nodes_not_resource_ids(
    parser: EmbeddedParser, text: str, nodes: list[str]
) -> None:
    values = _values(parser, text)
    assert values.get("node") == nodes, values
    assert "resource_id" not in values


def test_resource_ids_stay_resource_ids(parser: EmbeddedParser) -> None:
    assert _values(parser, "delete vm-12")["resource_id"] == "vm-12"
    assert _values(parser, "extend dev-box-3 by a week")["resource_id"] == "dev-box-3"
    assert is_host_name("gpu-a100-03") and is_host_name("a100-node-07")
    assert not is_host_name("vm-12") and not is_host_name("dev-box-3")


@pytest.mark.parametrize(
    ("text", "plain", "intent"),
    [
        ("thanks :pray:", "thanks", "greet"),
        (
            ":pray: could I get 2TB more on /scratch/lab",
            "could I get 2TB more on /scratch/lab",
            "request_quota",
        ),
        (
            "install gromacs please :+1: :slightly_smiling_face:",
            "install gromacs please",
            "request_software",
        ),
        ("drain c042 :thumbsup::skin-tone-2:", "drain c042", "node_action"),
        ("🙂 can you reboot wn0189 😅", "can you reboot wn0189", "node_action"),
    ],
)
def test_emoji_never_push_a_message_into_the_fallback(
    parser: EmbeddedParser, text: str, plain: str, intent: str
) -> None:
    result = parser.parse_sync(text, NOW)
    assert result.intent.name == intent, result.intent_ranking[:3]
    assert result.intent == parser.parse_sync(plain, NOW).intent  # the emoji changed nothing


def test_emoji_are_not_tokens_but_colons_in_values_stay() -> None:
    assert [t.text for t in tokenize("ok :+1: thanks 😅!")] == ["ok", "thanks"]
    assert [t.text for t in tokenize("at 10:30:00 :wave:")] == ["at", "10:30:00"]
    # the few that are words stay, without their skin tone; a lone emoji is all there is
    assert [t.text for t in tokenize("lgtm 👍🏽 REQ-4")] == ["lgtm", "👍", "REQ-4"]
    assert [t.text for t in tokenize(":wave:")] == [":wave"]


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("was REQ-7 rejected", True),
        ("can I approve REQ-4?", True),
        ("REQ-9 approved?", True),
        ("who's the approver for REQ-118", True),
        ("can you approve REQ-4?", False),
        ("could you deny #9 please?", False),
        ("approve REQ-4", False),
        ("please deny REQ-12, no budget", False),
    ],
)
def test_a_question_is_asked_not_requested(text: str, question: bool) -> None:
    assert is_question(tokenize(text)) is question


def test_the_guard_only_ever_takes_a_decision_away() -> None:
    plain = ["-", "-", "B-re:request_id"]
    toks = tokenize("approve REQ-4 now")
    assert guarded("approve_request", toks, plain) == "approve_request"
    assert guarded("approve_request", toks, ["B-cue_undo", "-", "-"]) == "check_status"
    assert guarded("deny_request", toks, ["B-cue_hedge", "-", "-"]) == FALLBACK
    assert guarded("deny_request", toks, ["B-cue_dont_decide", "-", "-"]) == FALLBACK
    asked = tokenize("was REQ-4 approved")
    assert guarded("approve_request", asked, plain) == "check_status"
    # other intents are left alone, whatever the message holds
    assert guarded("request_quota", asked, ["B-cue_hedge", "-", "-"]) == "request_quota"
