"""Intent classifier: TF-IDF over word and character n-grams, a linear model, temperature-scaled
probabilities, and a fallback rule (confidence threshold + ambiguity margin).

Training uses scikit-learn (multinomial logistic regression); inference is re-implemented over
plain numpy arrays (vocabulary dict, idf vector, weight matrix) so that loading the model does not
import scikit-learn (>1 s) and one prediction costs well under a millisecond.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlu.data import OUT_OF_SCOPE
from nlu.features import intent_features
from nlu.novelty import KnownWords, novelty_words
from nlu.result import FALLBACK
from nlu.tokens import Token


@dataclass
class IntentModel:
    labels: list[str]
    vocab: dict[str, int]
    idf: np.ndarray
    coef: np.ndarray  # (n_features, n_labels), so a message needs only its own rows
    intercept: np.ndarray
    temperature: float
    threshold: float
    margin: float
    known: KnownWords

    def vector(
        self, tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TF-IDF vector (indices, l2-normalised values) with sublinear tf."""
        get = self.vocab.get
        counts: dict[int, int] = {}
        features = intent_features(tokens, gazetteer_tags)
        features += self.known.features(novelty_words(tokens, gazetteer_tags))
        for feature in features:
            col = get(feature)
            if col is not None:
                counts[col] = counts.get(col, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        values = (1.0 + np.log(tf)) * self.idf[idx]
        values /= float(np.sqrt(values @ values)) or 1.0
        return idx, values

    def scores(
        self, tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None = None
    ) -> np.ndarray:
        idx, values = self.vector(tokens, gazetteer_tags)
        scores: np.ndarray = values @ self.coef[idx] + self.intercept
        return scores

    def probabilities(
        self, tokens: Sequence[Token], gazetteer_tags: Sequence[str] | None = None
    ) -> np.ndarray:
        return softmax(self.scores(tokens, gazetteer_tags) / self.temperature)

    def decide(
        self, probs: np.ndarray, threshold: float | None = None
    ) -> tuple[str, float, list[tuple[str, float]]]:
        """The intent (or ``nlu_fallback``), its confidence, and the in-scope ranking."""
        return decide(
            self.labels, probs, self.threshold if threshold is None else threshold, self.margin
        )


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return out


def decide(
    labels: Sequence[str], probs: np.ndarray, threshold: float, margin: float
) -> tuple[str, float, list[tuple[str, float]]]:
    """Fallback when out-of-scope wins, confidence is too low, or the top two are too close."""
    order = np.argsort(-probs)
    ranking = [(labels[i], float(probs[i])) for i in order if labels[i] != OUT_OF_SCOPE]
    top_label = labels[order[0]]
    if top_label == OUT_OF_SCOPE or not ranking:
        return FALLBACK, float(probs[order[0]]), ranking
    best = ranking[0][1]
    second = ranking[1][1] if len(ranking) > 1 else 0.0
    if best < threshold or best - second < margin:
        return FALLBACK, 1.0 - best, ranking
    return ranking[0][0], best, ranking


# --------------------------------------------------------------------------- training


@dataclass
class IntentConfig:
    c: float = 30.0
    min_df_char: int = 2
    # Out-of-fold fits for the temperature and the fallback rule: 3 calibrate as well as 5 here
    # (same cross-validation and held-out figures) and save two of six fits.
    folds: int = 3
    extra_false_rejection: float = 0.02
    # Absolute cap on out-of-fold false rejections (out-of-scope class + threshold + margin);
    # 0 disables it, leaving only ``extra_false_rejection`` above the class's own rejections.
    max_false_rejection: float = 0.02
    # Weight of ``out_of_scope`` on top of the balanced class weights: the class is a catch-all
    # ("everything else"), so its few examples must pull harder than one intent's.
    oos_weight: float = 3.0
    seed: int = 13


def build_vocab(docs: Sequence[list[str]], min_df_char: int) -> tuple[dict[str, int], np.ndarray]:
    df: Counter[str] = Counter()
    for feats in docs:
        df.update(set(feats))
    keep = sorted(f for f, n in df.items() if n >= (min_df_char if f.startswith("c:") else 1))
    vocab = {f: i for i, f in enumerate(keep)}
    n_docs = len(docs)
    idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in keep], dtype=np.float32)
    return vocab, idf


def matrix(docs: Sequence[list[str]], vocab: dict[str, int], idf: np.ndarray) -> Any:
    """CSR TF-IDF matrix matching :meth:`IntentModel.vector` exactly."""
    from scipy.sparse import csr_matrix

    rows, cols, vals = [], [], []
    for r, feats in enumerate(docs):
        counts = Counter(f for f in feats if f in vocab)
        if not counts:
            continue
        idx = np.array([vocab[f] for f in counts])
        v = np.array([1.0 + math.log(c) for c in counts.values()]) * idf[idx]
        v /= np.sqrt(v @ v) or 1.0
        rows.extend([r] * len(idx))
        cols.extend(idx.tolist())
        vals.extend(v.tolist())
    return csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)), dtype=np.float64)


def class_weights(y: np.ndarray, labels: Sequence[str], oos_weight: float) -> dict[int, float]:
    """Balanced weights (n / (k * n_class)), the out-of-scope class's multiplied by
    ``oos_weight``."""
    counts = np.bincount(y, minlength=len(labels))
    present = [k for k in range(len(labels)) if counts[k]]
    weights = {k: len(y) / (len(present) * float(counts[k])) for k in present}
    if OUT_OF_SCOPE in labels and labels.index(OUT_OF_SCOPE) in weights:
        weights[labels.index(OUT_OF_SCOPE)] *= oos_weight
    return weights


def _fit(x: Any, y: np.ndarray, c: float, seed: int, weights: dict[int, float]) -> Any:
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(
        C=c, class_weight=weights, solver="newton-cg", tol=1e-3, random_state=seed, max_iter=500
    )
    clf.fit(x, y)
    return clf


def fit_temperature(scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of out-of-fold scores."""
    best_t, best_nll = 1.0, math.inf
    for t in np.geomspace(0.02, 5.0, 120):
        p = softmax(scores / t)
        nll = -float(np.mean(np.log(p[np.arange(len(y)), y] + 1e-12)))
        if nll < best_nll:
            best_t, best_nll = float(t), nll
    return best_t


def tune_fallback(
    labels: Sequence[str],
    probs: np.ndarray,
    y: np.ndarray,
    extra_frr: float,
    max_frr: float = 0.0,
) -> tuple[float, float]:
    """Threshold and margin that reject the most out-of-scope messages while the threshold and
    margin add at most ``extra_frr`` wrongly rejected in-scope messages to those the
    out-of-scope class already takes, and (when ``max_frr`` > 0) all rejections together stay
    within ``max_frr`` of the in-scope messages (ties: better in-scope accuracy, then lower
    settings). When the out-of-scope class alone exceeds the cap, both stay 0."""
    oos = labels.index(OUT_OF_SCOPE) if OUT_OF_SCOPE in labels else -1
    in_scope = y != oos
    top = probs.argmax(axis=1)
    masked = probs.copy()
    if oos >= 0:
        masked[:, oos] = -1.0
    order = np.argsort(-masked, axis=1)
    best_in = masked[np.arange(len(y)), order[:, 0]]
    second_in = masked[np.arange(len(y)), order[:, 1]] if probs.shape[1] > 2 else 0.0 * best_in
    oos_top = top == oos
    right = order[:, 0] == y
    base_frr = float(oos_top[in_scope].mean()) if in_scope.any() else 0.0
    cap = base_frr + extra_frr
    if max_frr > 0:
        cap = min(cap, max_frr)
    cap += 1e-9
    best: tuple[float, float, float, float] | None = None
    best_pair = (0.0, 0.0)
    for threshold in np.arange(0.0, 0.81, 0.01):
        for margin in np.arange(0.0, 0.41, 0.02):
            rejected = oos_top | (best_in < threshold) | (best_in - second_in < margin)
            frr = float(rejected[in_scope].mean()) if in_scope.any() else 0.0
            if frr > cap:
                continue
            oos_rej = float(rejected[~in_scope].mean()) if (~in_scope).any() else 0.0
            acc = float((right & ~rejected)[in_scope].mean()) if in_scope.any() else 0.0
            key = (oos_rej, acc, -threshold, -margin)
            if best is None or key > best:
                best, best_pair = key, (round(float(threshold), 2), round(float(margin), 2))
    return best_pair


def train_intent(
    examples: Sequence[tuple[list[Token], list[str], str]], config: IntentConfig
) -> IntentModel:
    """Fit the classifier, calibrate it and tune the fallback on out-of-fold predictions."""
    from sklearn.model_selection import StratifiedKFold

    words = [novelty_words(tokens, tags) for tokens, tags, _ in examples]
    in_scope = [label != OUT_OF_SCOPE for _, _, label in examples]
    known = KnownWords(w for w, keep in zip(words, in_scope, strict=True) if keep)
    docs = [
        intent_features(tokens, tags) + known.features(w, leave_out=w if keep else None)
        for w, keep, (tokens, tags, _) in zip(words, in_scope, examples, strict=True)
    ]
    labels = sorted({label for _, _, label in examples})
    y = np.array([labels.index(label) for _, _, label in examples])
    vocab, idf = build_vocab(docs, config.min_df_char)
    x = matrix(docs, vocab, idf)
    weights = class_weights(y, labels, config.oos_weight)
    oof = np.zeros((len(docs), len(labels)))
    folds = min(config.folds, int(np.bincount(y).min()))
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        for train_idx, test_idx in splitter.split(x, y):
            clf = _fit(x[train_idx], y[train_idx], config.c, config.seed, weights)
            cols = np.searchsorted(labels, [labels[k] for k in clf.classes_])
            scores = np.full((len(test_idx), len(labels)), -10.0)
            scores[:, cols] = clf.decision_function(x[test_idx]).reshape(len(test_idx), -1)
            oof[test_idx] = scores
        temperature = fit_temperature(oof, y)
        threshold, margin = tune_fallback(
            labels,
            softmax(oof / temperature),
            y,
            config.extra_false_rejection,
            config.max_false_rejection,
        )
    else:
        temperature, threshold, margin = 0.3, 0.3, 0.0
    clf = _fit(x, y, config.c, config.seed, weights)
    coef = np.ascontiguousarray(clf.coef_.T, dtype=np.float32)
    intercept = clf.intercept_.astype(np.float32)
    if len(labels) == 2:  # a binary linear model has one column
        coef = np.hstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]], dtype=np.float32)
    return IntentModel(labels, vocab, idf, coef, intercept, temperature, threshold, margin, known)
