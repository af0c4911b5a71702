"""Evaluation of a parser on annotated examples, and k-fold cross-validation of the embedded model.

Metrics: intent accuracy (an ``out_of_scope`` example is right only when it comes out as
``nlu_fallback``), fallback precision/recall and the in-scope false-rejection rate, entity
precision/recall/F1 per type (a predicted entity counts when type, start and end all match the
annotation), the most frequent confusion pairs, and parse latency percentiles.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nlu.data import OUT_OF_SCOPE, Example, TrainingData
from nlu.result import FALLBACK, ParseResult

ParseFn = Callable[[str], ParseResult]


@dataclass
class Report:
    examples: int = 0
    intent_accuracy: float = 0.0
    in_scope_accuracy: float = 0.0
    fallback_precision: float = 0.0
    fallback_recall: float = 0.0
    false_rejection_rate: float = 0.0
    entity: dict[str, dict[str, float]] = field(default_factory=dict)
    confusion: list[dict[str, Any]] = field(default_factory=list)
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    folds: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "examples": self.examples,
            "folds": self.folds,
            "intent_accuracy": round(self.intent_accuracy, 4),
            "in_scope_accuracy": round(self.in_scope_accuracy, 4),
            "fallback_precision": round(self.fallback_precision, 4),
            "fallback_recall": round(self.fallback_recall, 4),
            "false_rejection_rate": round(self.false_rejection_rate, 4),
            "entity": self.entity,
            "confusion": self.confusion,
            "latency_ms": self.latency_ms,
            "errors": self.errors,
        }


@dataclass
class _Tally:
    expected: list[str] = field(default_factory=list)
    predicted: list[str] = field(default_factory=list)
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def add(self, example: Example, result: ParseResult, seconds: float) -> None:
        expected = FALLBACK if example.intent == OUT_OF_SCOPE else example.intent
        predicted = result.intent.name
        self.expected.append(expected)
        self.predicted.append(predicted)
        self.latencies.append(seconds * 1000.0)
        gold = {(s.entity, s.start, s.end) for s in example.entities}
        found = {(e.entity, e.start, e.end) for e in result.entities}
        for ent in gold & found:
            self.tp[ent[0]] += 1
        for ent in found - gold:
            self.fp[ent[0]] += 1
        for ent in gold - found:
            self.fn[ent[0]] += 1
        if expected != predicted or gold != found:
            self.errors.append(
                {
                    "text": example.text,
                    "source": example.source,
                    "expected": expected,
                    "predicted": predicted,
                    "confidence": result.intent.confidence,
                    "missing": sorted(_show(example.text, gold - found)),
                    "unexpected": sorted(_show(example.text, found - gold)),
                }
            )

    def report(self, folds: int = 0) -> Report:
        n = len(self.expected)
        pairs = list(zip(self.expected, self.predicted, strict=True))
        in_scope = [(e, p) for e, p in pairs if e != FALLBACK]
        oos = [(e, p) for e, p in pairs if e == FALLBACK]
        predicted_fb = [(e, p) for e, p in pairs if p == FALLBACK]
        report = Report(examples=n, folds=folds)
        report.intent_accuracy = _ratio(sum(e == p for e, p in pairs), n)
        report.in_scope_accuracy = _ratio(sum(e == p for e, p in in_scope), len(in_scope))
        report.false_rejection_rate = _ratio(sum(p == FALLBACK for _, p in in_scope), len(in_scope))
        report.fallback_recall = _ratio(sum(p == FALLBACK for _, p in oos), len(oos))
        report.fallback_precision = _ratio(
            sum(e == FALLBACK for e, _ in predicted_fb), len(predicted_fb)
        )
        report.entity = entity_scores(self.tp, self.fp, self.fn)
        confusion = Counter((e, p) for e, p in pairs if e != p)
        report.confusion = [
            {"expected": e, "predicted": p, "count": c} for (e, p), c in confusion.most_common(15)
        ]
        report.latency_ms = percentiles(self.latencies)
        report.errors = self.errors
        return report


def _show(text: str, spans: set[tuple[str, int, int]]) -> list[str]:
    return [f"{entity}:{text[start:end]!r}" for entity, start, end in spans]


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def entity_scores(
    tp: Counter[str], fp: Counter[str], fn: Counter[str]
) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per entity type, plus ``micro`` over all types."""
    out: dict[str, dict[str, float]] = {}
    for kind in sorted(set(tp) | set(fp) | set(fn)):
        out[kind] = _prf(tp[kind], fp[kind], fn[kind])
    out["micro"] = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return out


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "support": tp + fn,
    }


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    if not values_ms:
        return {}
    ordered = sorted(values_ms)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99), "max": round(ordered[-1], 3)}


def evaluate(parse: ParseFn, examples: Sequence[Example]) -> Report:
    """Parse every example and score the results."""
    tally = _Tally()
    for example in examples:
        started = time.perf_counter()
        result = parse(example.text)
        tally.add(example, result, time.perf_counter() - started)
    return tally.report()


def cross_validate(
    data: TrainingData,
    folds: int = 5,
    seed: int = 7,
    now: datetime | None = None,
    config: Any = None,
) -> Report:
    """Train on k-1 folds and test on the remaining one, k times; metrics over all test folds."""
    from sklearn.model_selection import StratifiedKFold

    from nlu.model import TrainConfig, train_from

    examples = data.examples
    labels = [e.intent for e in examples]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    tally = _Tally()
    config = config or TrainConfig()
    for train_idx, test_idx in splitter.split(examples, labels):
        fold = TrainingData(
            [examples[i] for i in train_idx], dict(data.synonyms), data.lookups, data.regexes
        )
        model = train_from(fold, config)
        for i in test_idx:
            started = time.perf_counter()
            result = model.parse(examples[i].text, now=now)
            tally.add(examples[i], result, time.perf_counter() - started)
    return tally.report(folds=folds)


def format_report(report: Report, errors: int = 10) -> str:
    """Human-readable summary of a report."""
    lines = [
        f"examples: {report.examples}"
        + (f" ({report.folds}-fold cross-validation)" if report.folds else ""),
        f"intent accuracy:       {report.intent_accuracy:.2%}",
        f"in-scope accuracy:     {report.in_scope_accuracy:.2%}",
        f"out-of-scope rejected: {report.fallback_recall:.2%} (fallback recall)",
        f"fallback precision:    {report.fallback_precision:.2%}",
        f"in-scope rejected:     {report.false_rejection_rate:.2%} (false rejections)",
        "entities:               precision  recall    f1   support",
    ]
    for kind, s in report.entity.items():
        p, r, f, n = s["precision"], s["recall"], s["f1"], int(s["support"])
        lines.append(f"  {kind:<20} {p:>9.3f} {r:>7.3f} {f:>6.3f} {n:>7}")
    if report.confusion:
        lines.append("confusion (expected -> predicted):")
        lines.extend(
            f"  {c['expected']} -> {c['predicted']}: {c['count']}" for c in report.confusion
        )
    if report.latency_ms:
        lat = report.latency_ms
        lines.append(
            f"latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}"
        )
    if errors and report.errors:
        lines.append(f"first {min(errors, len(report.errors))} of {len(report.errors)} errors:")
        for err in report.errors[:errors]:
            detail = (
                f"  {err['text']!r}: {err['expected']} -> {err['predicted']} ({err['confidence']})"
            )
            if err["missing"] or err["unexpected"]:
                detail += f" missing={err['missing']} unexpected={err['unexpected']}"
            lines.append(detail)
    return "\n".join(lines)


def group_by_intent(examples: Sequence[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = defaultdict(list)
    for example in examples:
        out[example.intent].append(example)
    return dict(out)
