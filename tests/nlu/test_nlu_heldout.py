"""Quality gate: the model on held-out data (never trained on) meets the issue's targets."""

from __future__ import annotations

from pathlib import Path

from nlu.data import load_data
from nlu.embedded import EmbeddedParser
from nlu.evaluate import evaluate

DATA = Path(__file__).resolve().parent / "data"


def test_heldout_meets_targets(parser: EmbeddedParser) -> None:
    examples = load_data(DATA).examples  # heldout.yml and heldout_chat.yml
    for example in examples[:50]:  # warm up caches before timing
        parser.parse_sync(example.text)
    report = evaluate(parser.parse_sync, examples)
    summary = report.as_dict()
    summary.pop("errors")
    assert report.examples >= 450
    assert report.intent_accuracy >= 0.95, summary
    assert report.fallback_recall >= 0.90, summary
    assert report.false_rejection_rate <= 0.03, summary
    assert report.entity["micro"]["f1"] >= 0.90, summary
    assert report.latency_ms["p99"] <= 5.0, summary
