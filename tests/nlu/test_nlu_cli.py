"""The command line: parse / train / evaluate, exit codes and error messages."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nlu import NLUSettings
from nlu.cli import add_subcommands
from nlu.embedded import EmbeddedParser

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
HELDOUT = HERE / "data" / "heldout.yml"


def run(argv: list[str], settings: NLUSettings) -> int:
    top = argparse.ArgumentParser(prog="quartermaster")
    sub = top.add_subparsers(dest="command", required=True)
    add_subcommands(sub.add_parser("nlu"), lambda: settings)
    args = top.parse_args(["nlu", *argv])
    return int(args.func(args))


@pytest.fixture
def cli_settings(parser: EmbeddedParser, settings: NLUSettings) -> NLUSettings:
    return settings  # the parser fixture guarantees the cached model exists


def test_parse_text(cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["parse", "drain c[001-002]"], cli_settings) == 0
    out = capsys.readouterr().out
    assert "intent: node_action" in out and '["c001", "c002"]' in out


def test_parse_json(cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        run(["parse", "--json", "--now", "2026-11-18T10:00", "extend vm-2 to friday"], cli_settings)
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["intent"]["name"] == "extend_loan"
    assert {"entity": "date", "value": "2026-11-20"}.items() <= result["entities"][-1].items()


def test_parse_jsonl_keeps_order(
    cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["hi", "", "drain c001", "tell me a joke", "approve REQ-9"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(lines) + "\n"))
    assert run(["parse", "--jsonl"], cli_settings) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in out] == lines
    assert [r["intent"]["name"] for r in out] == [
        "greet",
        "nlu_fallback",
        "node_action",
        "nlu_fallback",
        "approve_request",
    ]


def test_train(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = NLUSettings(model_dir=tmp_path / "unused")
    assert (
        run(["train", "--data", str(tiny_data), "--model-dir", str(tmp_path / "m")], settings) == 0
    )
    assert "trained on 24 examples (3 intents)" in capsys.readouterr().out
    assert (tmp_path / "m" / "current" / "model.json").is_file()


def test_evaluate_json(cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["evaluate", "--data", str(HELDOUT), "--json"], cli_settings) == 0
    report = json.loads(capsys.readouterr().out)
    for key in (
        "intent_accuracy",
        "fallback_precision",
        "fallback_recall",
        "false_rejection_rate",
        "entity",
        "confusion",
        "latency_ms",
    ):
        assert key in report
    assert {"p50", "p95", "p99"} <= set(report["latency_ms"])
    assert report["entity"]["node"]["support"] > 10


def test_evaluate_text_report(
    cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["evaluate", "--data", str(HELDOUT)], cli_settings) == 0
    out = capsys.readouterr().out
    assert "intent accuracy:" in out and "latency ms: p50" in out


def test_cross_validation(tiny_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = NLUSettings(data=tiny_data)
    assert run(["evaluate", "--cross-validation", "--folds", "2", "--json"], settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["folds"] == 2 and report["examples"] == 24


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["evaluate", "--data", "missing.yml"], "missing.yml:0: no such file or directory"),
        (["evaluate"], "evaluate needs --data"),
        (["train", "--data", "nowhere"], "training data not found"),
        (["parse"], "nothing to parse"),
        (["parse", "--jsonl", "text"], "not both"),
    ],
)
def test_user_errors_exit_2_with_one_line(
    cli_settings: NLUSettings, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert run(argv, cli_settings) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_yaml_reports_file_and_line(
    cli_settings: NLUSettings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n  oops: [\n")
    assert run(["evaluate", "--data", str(bad)], cli_settings) == 2
    err = capsys.readouterr().err
    assert f"{bad}:" in err and "invalid YAML" in err and len(err.strip().splitlines()) == 1


def test_bad_option_values_exit_2(cli_settings: NLUSettings) -> None:
    for argv in (
        ["evaluate", "--folds", "1"],
        ["parse", "--now", "yesterday", "x"],
        ["parse", "--bogus"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            run(argv, cli_settings)
        assert exit_info.value.code == 2


def test_python_dash_m(parser: EmbeddedParser, settings: NLUSettings, tmp_path: Path) -> None:
    env = {**os.environ, "QUARTERMASTER_HOME": str(tmp_path / "home")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nlu",
            "parse",
            "--json",
            "--model-dir",
            str(settings.model_path()),
            "--training-data",
            str(settings.data_path()),
            "undrain wn0189",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["intent"]["name"] == "node_action"
    assert [e["value"] for e in result["entities"]] == ["resume", ["wn0189"]]
    bad = subprocess.run(
        [sys.executable, "-m", "nlu", "evaluate", "--data", str(tmp_path / "nope.yml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
