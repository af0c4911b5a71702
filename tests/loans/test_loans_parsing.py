"""Reading what people ask for: the parts of a borrow command, node requests against the
inventory, and periods for the free-nodes view."""

from __future__ import annotations

from datetime import date

import pytest

from bot.errors import UserError
from skills._loans.inventory import NodeRequest, parse_nodes
from skills._loans.settings import loan_settings
from skills._loans.views import period
from skills.loans import split_request
from tests.loans.conftest import INVENTORY

SETTINGS = loan_settings({"inventory": INVENTORY})


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "4 gpu nodes from 2027-03-01 to 2027-04-30 for project Porting from x86 to ARM "
            "experiment Techlab users alice, bob sudo alice",
            {
                "nodes": "4 gpu nodes",
                "start": "2027-03-01",
                "end": "2027-04-30",
                "project": "Porting from x86 to ARM",
                "experiment": "Techlab",
                "users": "alice, bob",
                "sudoers": "alice",
            },
        ),
        ("gpu[01-02] until 2027-04-30", {"nodes": "gpu[01-02]", "end": "2027-04-30"}),
        ("two arm machines", {"nodes": "two arm machines"}),
    ],
)
def test_split_request(text: str, parts: dict[str, str]) -> None:
    assert split_request(text) == parts


def test_split_request_wants_keywords_after_the_dates() -> None:
    with pytest.raises(UserError, match="After the dates I expected `project …`"):
        split_request("gpu01 from 2027-03-01 to 2027-04-30 for alice")


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("4 gpu", NodeRequest(count=4, kind="gpu")),
        ("two arm machines", NodeRequest(count=2, kind="arm")),
        ("1 GPUs", NodeRequest(count=1, kind="gpu")),
        ("gpu[01-02],arm01", NodeRequest(names=("gpu01", "gpu02", "arm01"))),
        ("gpu01-gpu03", NodeRequest(names=("gpu01", "gpu02", "gpu03"))),
    ],
)
def test_parse_nodes(text: str, wanted: NodeRequest) -> None:
    assert parse_nodes(text, SETTINGS) == wanted


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 gpu", "Ask for at least one node."),
        ("5 gpu", "There are only 4 gpu nodes, so I can't lend 5."),
        ("2 power", "I don't lend 'power' nodes. Kinds: arm, gpu."),
        (
            "gpu[01-09]",
            "I don't lend gpu05, gpu06, gpu07, gpu08, gpu09: not in the loan inventory.",
        ),
        ("c[1-99999999]", "isn't a list of nodes I understand"),
        ("x" * 400, "too long"),
    ],
)
def test_parse_nodes_refuses_clearly(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_nodes(text, SETTINGS)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("", date(2027, 3, 3), date(2027, 3, 3)),
        ("next week", date(2027, 3, 8), date(2027, 3, 14)),
        ("this week", date(2027, 3, 3), date(2027, 3, 7)),
        ("tomorrow", date(2027, 3, 4), date(2027, 3, 4)),
        ("next month", date(2027, 4, 1), date(2027, 4, 30)),
        ("on 2027-03-20", date(2027, 3, 20), date(2027, 3, 20)),
        ("from 2027-03-10 to 2027-03-20", date(2027, 3, 10), date(2027, 3, 20)),
        ("until 2027-03-20", date(2027, 3, 3), date(2027, 3, 20)),
    ],
)
def test_period(text: str, start: date, end: date) -> None:
    assert period(text, date(2027, 3, 3)) == (start, end)


def test_bad_settings_name_the_key() -> None:
    from bot.errors import ConfigError

    with pytest.raises(ConfigError, match=r"loans\.inventory: Value error|loans\.inventory"):
        loan_settings({"inventory": {"gpu 01": {"kind": "gpu"}}})
    with pytest.raises(ConfigError, match=r"loans\.node_file"):
        loan_settings({"node_file": "../{node}.yaml"})
