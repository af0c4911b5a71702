"""Quality gate: the model on held-out data (never trained on) meets the issue's targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlu.data import load_data
from nlu.embedded import EmbeddedParser
from nlu.evaluate import Report, cross_validate, evaluate

DATA = Path(__file__).resolve().parent / "data"
TRAINING_DATA = Path(__file__).resolve().parents[2] / "config" / "nlu"


AUTHOR_FILES = ("heldout.yml", "heldout_chat.yml")  # written with the training data
INDEPENDENT = ("heldout_independent.yml",)  # written from the schema, without seeing the data
BLIND = ("heldout_blind2.yml",)  # written later, the same way, by someone who never saw the data


def _report(parser: EmbeddedParser, files: tuple[str, ...]) -> tuple[Report, dict[str, Any]]:
    examples = [e for name in files for e in load_data(DATA / name).examples]
    for example in examples[:50]:  # warm up caches before timing
        parser.parse_sync(example.text)
    report = evaluate(parser.parse_sync, examples)
    summary = report.as_dict()
    summary.pop("errors")
    return report, summary


def test_author_heldout_meets_targets(parser: EmbeddedParser) -> None:
    report, summary = _report(parser, AUTHOR_FILES)
    assert report.examples >= 450
    assert report.intent_accuracy >= 0.95, summary
    assert report.fallback_recall >= 0.90, summary
    assert report.false_rejection_rate <= 0.03, summary
    assert report.entity["micro"]["f1"] >= 0.90, summary


def test_independent_heldout_meets_targets(parser: EmbeddedParser) -> None:
    """Regression gate on the file written without seeing the training data. It meets every
    target (measured: accuracy 98.9 %, out-of-scope rejected 96.8 %, false rejections 0.8 %,
    entity F1 0.984), so every target is asserted; no measure is short, hence no floors below
    target. Fix the kind of error it shows, never copy its sentences into the training data."""
    report, summary = _report(parser, INDEPENDENT)
    assert report.examples >= 430
    assert report.intent_accuracy >= 0.95, summary
    assert report.fallback_recall >= 0.90, summary
    assert report.false_rejection_rate <= 0.03, summary
    assert report.entity["micro"]["f1"] >= 0.90, summary


def test_second_blind_heldout_meets_targets(parser: EmbeddedParser) -> None:
    """The second blind file (566 messages, 114 out of scope), written from the schema and the
    brief only. Measured when it arrived: accuracy 96.8 %, out-of-scope rejected 92.1 %, false
    rejections 1.6 %, entity F1 0.976 (the model before the unknown-word features: 94.4 / 85.1 /
    2.2 — it missed the out-of-scope target)."""
    report, summary = _report(parser, BLIND)
    assert report.examples >= 550
    assert report.intent_accuracy >= 0.95, summary
    assert report.fallback_recall >= 0.90, summary
    assert report.false_rejection_rate <= 0.03, summary
    assert report.entity["micro"]["f1"] >= 0.90, summary


def test_cross_validation_meets_targets() -> None:
    """5-fold cross-validation of the shipped training data, as `nlu evaluate --cross-validation`
    runs it (seed 7). The harshest set: the data is made of one-off wordings and adversarial
    negatives. Measured: 95.3 % / 92.0 % / 1.7 % / 0.959 with 4 631 examples and 19 intents
    (docs/nlu.md has the other shuffles). A data change that drops it below a target fails here."""
    report = cross_validate(load_data(TRAINING_DATA), folds=5, seed=7)
    summary = report.as_dict()
    summary.pop("errors")
    assert report.examples >= 4000
    assert report.intent_accuracy >= 0.95, summary
    assert report.fallback_recall >= 0.90, summary
    assert report.false_rejection_rate <= 0.03, summary
    assert report.entity["micro"]["f1"] >= 0.90, summary
