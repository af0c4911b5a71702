"""Sequence tagger (linear-chain CRF) that finds entity spans in a tokenised message.

Trained with sklearn-crfsuite; at run time the CRFsuite model is opened from memory through
python-crfsuite directly, which is what sklearn-crfsuite wraps, without scikit-learn.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nlu.features import token_features
from nlu.gazetteer import Gazetteer
from nlu.tokens import Token

OUTSIDE = "O"


@dataclass
class TaggerConfig:
    c1: float = 0.05
    c2: float = 0.02
    # L-BFGS iterations: 30 keep the entity F1 of 60 within 0.005 on every held-out file, in half
    # the time
    max_iterations: int = 30


def bio_labels(tokens: Sequence[Token], spans: Sequence[tuple[str, int, int]]) -> list[str]:
    """BIO label per token for character spans (a token belongs to a span it overlaps)."""
    labels = [OUTSIDE] * len(tokens)
    for entity, start, end in spans:
        inside = [i for i, t in enumerate(tokens) if t.start < end and t.end > start]
        for k, i in enumerate(inside):
            labels[i] = ("B-" if k == 0 else "I-") + entity
    return labels


def label_spans(labels: Sequence[str]) -> list[tuple[str, int, int]]:
    """(entity, first token, last token + 1) for each B/I run; a stray I- starts a span."""
    spans: list[tuple[str, int, int]] = []
    current: tuple[str, int] | None = None
    for i, label in enumerate([*labels, OUTSIDE]):
        kind = label[2:] if label != OUTSIDE else None
        continues = label.startswith("I-") and current is not None and current[0] == kind
        if current is not None and not continues:
            spans.append((current[0], current[1], i))
            current = None
        if kind is not None and not continues:
            current = (kind, i)
    return spans


class Tagger:
    """A trained CRF plus the gazetteer whose tags are among its features."""

    def __init__(self, model: bytes, gazetteer: Gazetteer) -> None:
        import pycrfsuite

        self.model = model
        self.gazetteer = gazetteer
        self._tagger = pycrfsuite.Tagger()
        self._tagger.open_inmemory(model)

    def spans(
        self, tokens: Sequence[Token], intent: str, gazetteer_tags: Sequence[str] | None = None
    ) -> list[tuple[str, int, int]]:
        """Entity spans as (entity, first token, end token)."""
        if not tokens:
            return []
        tags = gazetteer_tags if gazetteer_tags is not None else self.gazetteer.tag(tokens)
        feats = token_features(tokens, tags, intent)
        return label_spans(self._tagger.tag(feats))


def train_tagger(
    sequences: Sequence[tuple[Sequence[Token], str, Sequence[tuple[str, int, int]]]],
    gazetteer: Gazetteer,
    config: TaggerConfig,
) -> bytes:
    """Train the CRF on (tokens, intent, character spans) and return the model file's bytes."""
    import sklearn_crfsuite

    x = [token_features(t, gazetteer.tag(t), intent) for t, intent, _ in sequences if t]
    y = [bio_labels(t, spans) for t, _, spans in sequences if t]
    with tempfile.TemporaryDirectory(prefix="qm-crf-") as tmp:
        path = Path(tmp) / "tagger.crfsuite"
        crf = sklearn_crfsuite.CRF(
            algorithm="lbfgs",
            c1=config.c1,
            c2=config.c2,
            max_iterations=config.max_iterations,
            all_possible_transitions=True,
            model_filename=str(path),
        )
        crf.fit(x, y)
        return path.read_bytes()
