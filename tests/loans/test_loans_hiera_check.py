"""The format police: each kind of violation with its line, exit codes fit for CI, --fix, and
a hand-broken file in the real Hiera repository caught from chat and from the command line."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main as cli_main
from bot.testing import FakeClock
from bot.testing.harness import TestBot
from skills._loans.check import check_text, fix_text
from tests.loans.conftest import Remote, git, loan_overrides

TODAY = date(2027, 3, 15)
GOOD = (
    "# gpu05\n"
    "users:\n"
    "  - alice ##t From:2027-03-01 To:2027-04-30 ##r REQ-17 ##p Porting to ARM ##e Techlab\n"
    "  - carol ##t From:2027-05-01 To:2027-05-31 ##r REQ-18\n"
    "sudoers:\n"
    '  - alice: "ALL=(ALL) ALL"\n'
)


def problems(text: str) -> list[tuple[int, str]]:
    return [(v.line, v.message) for v in check_text(text, "gpu05.yaml", TODAY)]


def test_a_well_formed_file_passes() -> None:
    assert problems(GOOD) == []
    assert fix_text(GOOD) == GOOD


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  - bob", "user bob has no tags"),
        ("  - bob ##r REQ-3", "user bob has no ##t tag"),
        ("  - bob ##t From:2027-03-01 ##r REQ-3", "incomplete ##t tag for bob"),
        ("  - bob ##t From:2027-03-01 To:2027-13-01 ##r REQ-3", "incomplete ##t tag for bob"),
        ("  - bob ##t From:2027-03-01 To:2027-04-01", "user bob has no ##r tag"),
        ("  - bob ##t From:2027-03-01 To:2027-04-01 ##r 3", "incomplete ##r tag for bob"),
        ("  - bob ##t From:2027-01-01 To:2027-02-28 ##r REQ-3", "loan of bob (REQ-3) ended on"),
        ("    - bob ##t From:2027-03-01 To:2027-04-01 ##r REQ-3", "indented by two spaces"),
        ("\t- bob ##t From:2027-03-01 To:2027-04-01 ##r REQ-3", "indentation with a tab"),
        ("  ## From:2027-03-01", "a ## tag outside a user line"),
    ],
)
def test_each_violation_is_reported_with_its_line(line: str, expected: str) -> None:
    text = GOOD.replace("users:\n", f"users:\n{line}\n")
    found = problems(text)
    assert len(found) >= 1 and found[0][0] == 3 and expected in found[0][1], found


def test_tags_outside_the_user_block_are_reported() -> None:
    text = GOOD + "  - bob: ALL ##r REQ-3\n"
    assert problems(text) == [(7, "a ## tag outside the user block (in sudoers:)")]


def test_broken_yaml_is_reported_with_its_line() -> None:
    text = GOOD.replace('"ALL=(ALL) ALL"', '"ALL=(ALL) ALL')
    assert any("not valid YAML" in m for _, m in problems(text))


def test_fix_repairs_what_is_mechanical_and_leaves_the_rest() -> None:
    broken = (
        "users: []\n"
        "    -   alice ##r req-17  ##t From:2027-03-01   To:2027-04-30 ##p  Porting to ARM \n"
        "\t- bob\n"
        "sudoers:\n"
        "- alice: ALL\n"
    )
    fixed = fix_text(broken)
    assert fixed == (
        "users:\n"
        "  - alice ##t From:2027-03-01 To:2027-04-30 ##r REQ-17 ##p Porting to ARM\n"
        "  - bob\n"
        "sudoers:\n"
        "  - alice: ALL\n"
    )
    assert [m for _, m in problems(fixed)] == ["user bob has no tags (##t and ##r needed)"]


def test_cli_exit_codes_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nodes = tmp_path / "nodes"
    nodes.mkdir()
    (nodes / "gpu05.yaml").write_text(GOOD)
    assert cli_main(["hiera", "check", str(nodes), "--today", "2027-03-15"]) == 0
    broken = nodes / "gpu06.yaml"
    broken.write_text("users:\n   - bob ##t From:2027-03-01 To:2027-04-30 ##r REQ-9\n  - eve\n")
    assert cli_main(["hiera", "check", str(nodes), "--today", "2027-03-15"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"{broken}:2: expected a list item indented by two spaces under users:",
        f"{broken}:3: not valid YAML: expected <block end>, but found '<block sequence start>'",
        f"{broken}:3: user eve has no tags (##t and ##r needed)",
    ]
    assert cli_main(["hiera", "check", str(nodes), "--fix", "--today", "2027-03-15"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{broken}:3: user eve has no tags (##t and ##r needed)"]
    assert broken.read_text().startswith("users:\n  - bob ##t")
    assert cli_main(["hiera", "check", str(tmp_path / "nowhere")]) == 2
    assert "no such file" in capsys.readouterr().err


async def test_a_hand_broken_file_in_the_repository_is_caught(
    tmp_path: Path, remote: Remote, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock(datetime(2027, 2, 1, 9, tzinfo=UTC))
    bot = TestBot.create(tmp_path, overrides=loan_overrides(remote, tmp_path), clock=clock)
    async with bot:
        await bot.grant("sam", "staff")
        await bot.say(
            "alice",
            "borrow gpu03 from 2027-03-01 to 2027-03-31 project P experiment E users alice",
        )
        await bot.say("alice", "yes")
        await bot.say("sam", "approve REQ-1")
        (ok,) = await bot.say("sam", "hiera check")
        assert ok.text == "The node files are in order."
        # an administrator edits by hand: a date lost, a user without tags
        remote.pull()
        path = remote.clone / "nodes" / "gpu03.yaml"
        text = path.read_text().replace(" To:2027-03-31", "")
        path.write_text(text + "  - mallory\n")
        git(remote.clone, "commit", "-qam", "hand edit")
        git(remote.clone, "push", "-q", "origin", "HEAD:main")
        (report,) = await bot.say("sam", "hiera check")
        assert report.text.splitlines() == [
            "2 problems in the node files:",
            "nodes/gpu03.yaml:3: incomplete ##t tag for alice: needs From:YYYY-MM-DD To:YYYY-MM-DD",
            "nodes/gpu03.yaml:4: user mallory has no tags (##t and ##r needed)",
        ]
        (refused,) = await bot.say("alice", "hiera check")
        assert "staff" in refused.text
    code = cli_main(["hiera", "check", str(remote.clone / "nodes"), "--today", "2027-03-02"])
    assert code == 1 and "gpu03.yaml:4: user mallory" in capsys.readouterr().out
