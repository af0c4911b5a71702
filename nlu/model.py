"""The embedded model: training from a data directory, the on-disk cache, and parsing.

The cache holds a hash of the training data, the training configuration and the NLU source code;
:func:`load_or_train` retrains when any of them changed, so a stale model is never used.
Files: ``model.json`` (metadata, vocabulary, gazetteer, synonyms), ``intent.npz`` (arrays, loaded
without pickle) and ``tagger.crfsuite``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nlu.data import OUT_OF_SCOPE, DataError, TrainingData, data_files, load_data
from nlu.entities import EntityContext, extract
from nlu.gazetteer import Gazetteer
from nlu.guard import guarded
from nlu.intent import IntentConfig, IntentModel, train_intent
from nlu.novelty import KnownWords
from nlu.result import FALLBACK, IntentScore, ParseResult
from nlu.tagger import Tagger, TaggerConfig, train_tagger
from nlu.tokens import tokenize

FORMAT_VERSION = 2
CONFIG_FILE = "config.yml"
RANKING_SIZE = 10
MAX_TOKENS = 256  # a pasted log is not a request: read only its beginning, keep latency bounded
log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    """Training settings, read from the ``embedded:`` section of ``<data>/config.yml``."""

    intent: IntentConfig = field(default_factory=IntentConfig)
    tagger: TaggerConfig = field(default_factory=TaggerConfig)

    @classmethod
    def from_data_dir(cls, path: Path) -> TrainConfig:
        config = cls()
        file = path / CONFIG_FILE if path.is_dir() else path.parent / CONFIG_FILE
        if not file.is_file():
            return config
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise DataError(f"{file}:{mark.line + 1 if mark else 0}: invalid YAML") from None
        section = raw.get("embedded") or {} if isinstance(raw, dict) else {}
        for part_name in ("intent", "tagger"):
            part = getattr(config, part_name)
            for key, value in (section.get(part_name) or {}).items():
                if not hasattr(part, key):
                    raise DataError(f"{file}:0: embedded.{part_name}.{key}: unknown setting")
                setattr(part, key, type(getattr(part, key))(value))
        return config


def _source_files() -> list[Path]:
    root = Path(__file__).resolve().parent
    skip = {"cli.py", "evaluate.py", "rasa.py", "__main__.py", "settings.py", "embedded.py"}
    return sorted(p for p in root.rglob("*.py") if p.name not in skip)


def data_hash(data_path: Path, config: TrainConfig) -> str:
    """Hash of the training files, the training configuration and the model code."""
    digest = hashlib.sha256(f"format={FORMAT_VERSION}\n".encode())
    digest.update(json.dumps(asdict(config), sort_keys=True).encode())
    base = data_path if data_path.is_dir() else data_path.parent
    for file in data_files(data_path):
        digest.update(b"\0data\0" + str(file.relative_to(base)).encode() + b"\0")
        digest.update(file.read_bytes())
    for file in _source_files():
        digest.update(b"\0code\0" + file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


class NLUModel:
    """Intent classifier + entity tagger + synonyms: everything a parse needs."""

    def __init__(
        self, intent: IntentModel, tagger: Tagger, synonyms: dict[str, str], meta: dict[str, Any]
    ) -> None:
        self.intent = intent
        self.tagger = tagger
        self.synonyms = synonyms
        self.meta = meta

    def parse(
        self,
        text: str,
        now: datetime | None = None,
        clusters: list[str] | tuple[str, ...] = (),
        threshold: float | None = None,
        context: EntityContext | None = None,
    ) -> ParseResult:
        """The parse result for one message (its Rasa form: docs/nlu.md)."""
        tokens = tokenize(text)[:MAX_TOKENS]
        gaz = self.tagger.gazetteer.tag(tokens)
        probs = self.intent.probabilities(tokens, gaz)
        name, confidence, ranking = self.intent.decide(probs, threshold)
        if not tokens:
            name, confidence = FALLBACK, 1.0
        ruled = guarded(name, tokens, gaz)
        if ruled != name:  # a question, hedge, "don't", undo or history is never a decision
            name = ruled
            ranking = sorted(ranking, key=lambda item: item[0] != ruled)
        top_label = self.intent.labels[int(np.argmax(probs))]
        if context is None:
            context = EntityContext(
                self.synonyms,
                clusters,
                now or datetime.now(),
                EntityContext.cluster_pattern(clusters),
            )
        elif now is not None:
            context.now = now
        spans = self.tagger.spans(tokens, top_label, gaz) if tokens else []
        read = text if len(tokens) < MAX_TOKENS else text[: tokens[-1].end]
        entities = extract(read, tokens, spans, context)
        ranked = [IntentScore(n, round(c, 4)) for n, c in ranking[:RANKING_SIZE]]
        intent = IntentScore(name, round(confidence, 4))
        if name == FALLBACK:
            ranked.insert(0, intent)
        return ParseResult(text, intent, tuple(ranked), tuple(entities))

    # ------------------------------------------------------------------ persistence
    def save(self, model_dir: Path) -> None:
        """Write the model atomically to ``model_dir/current``."""
        model_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # trained on the site's phrases
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=model_dir))
        try:
            meta = dict(self.meta)
            meta.update(
                labels=self.intent.labels,
                temperature=self.intent.temperature,
                threshold=self.intent.threshold,
                margin=self.intent.margin,
                vocab=self.intent.vocab,
                known_words=self.intent.known.to_json(),
                gazetteer=self.tagger.gazetteer.to_json(),
                synonyms=self.synonyms,
            )
            (tmp / "model.json").write_text(json.dumps(meta), encoding="utf-8")
            np.savez(
                tmp / "intent.npz",
                idf=self.intent.idf,
                coef=self.intent.coef,
                intercept=self.intent.intercept,
            )
            (tmp / "tagger.crfsuite").write_bytes(self.tagger.model)
            target = model_dir / "current"
            if target.exists():
                old = model_dir / f".old-{os.getpid()}-{time.monotonic_ns()}"
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            tmp.rename(target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    @classmethod
    def load(cls, model_dir: Path) -> NLUModel:
        """Load ``model_dir/current``; raises FileNotFoundError or ValueError when unusable."""
        base = model_dir / "current"
        meta = json.loads((base / "model.json").read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise ValueError("model format changed")
        with np.load(base / "intent.npz", allow_pickle=False) as arrays:
            idf, coef, intercept = arrays["idf"], arrays["coef"], arrays["intercept"]
        intent = IntentModel(
            meta.pop("labels"),
            meta.pop("vocab"),
            idf,
            coef,
            intercept,
            meta.pop("temperature"),
            meta.pop("threshold"),
            meta.pop("margin"),
            KnownWords.from_json(meta.pop("known_words")),
        )
        gazetteer = Gazetteer.from_json(meta.pop("gazetteer"))
        tagger = Tagger((base / "tagger.crfsuite").read_bytes(), gazetteer)
        return cls(intent, tagger, meta.pop("synonyms"), meta)


def stored_hash(model_dir: Path) -> str | None:
    """The data hash of the cached model, read without loading the model."""
    try:
        with (model_dir / "current" / "model.json").open(encoding="utf-8") as fh:
            head = fh.read(4096)
        start = head.index('"hash": "') + 9
        return head[start : start + 64]
    except (OSError, ValueError):
        return None


def train(data_path: Path, config: TrainConfig | None = None) -> NLUModel:
    """Train a model from the Rasa YAML under ``data_path``."""
    started = time.perf_counter()
    config = config or TrainConfig.from_data_dir(data_path)
    digest = data_hash(data_path, config)
    data = load_data(data_path)
    return train_from(data, config, digest, started)


def train_from(
    data: TrainingData, config: TrainConfig, digest: str = "", started: float | None = None
) -> NLUModel:
    """Train from already-read data (used by cross-validation)."""
    from threadpoolctl import threadpool_limits

    started = time.perf_counter() if started is None else started
    # Small sparse problems: BLAS threads only contend with each other (4x slower on a busy box).
    with threadpool_limits(limits=1):
        return _train(data, config, digest, started)


def _train(data: TrainingData, config: TrainConfig, digest: str, started: float) -> NLUModel:
    tokenised = [(tokenize(e.text), e) for e in data.examples]
    gazetteer = Gazetteer.from_data(data.lookups, data.synonyms, data.regexes)
    intent = train_intent([(t, gazetteer.tag(t), e.intent) for t, e in tokenised], config.intent)
    sequences = [
        (t, e.intent, [(s.entity, s.start, s.end) for s in e.entities]) for t, e in tokenised
    ]
    tagger = Tagger(train_tagger(sequences, gazetteer, config.tagger), gazetteer)
    synonyms = {k.lower(): v for k, v in data.synonyms.items()}
    meta = {
        "hash": digest,
        "format": FORMAT_VERSION,
        "trained_at": datetime.now().isoformat(timespec="seconds"),
        "train_seconds": round(time.perf_counter() - started, 3),
        "examples": len(data.examples),
        "intents": sorted({e.intent for e in data.examples} - {OUT_OF_SCOPE}),
    }
    return NLUModel(intent, tagger, synonyms, meta)


def load_or_train(data_path: Path, model_dir: Path, force: bool = False) -> NLUModel:
    """The cached model if it matches the data, configuration and code; otherwise retrain."""
    config = TrainConfig.from_data_dir(data_path)
    digest = data_hash(data_path, config)
    if not force and stored_hash(model_dir) == digest:
        try:
            return NLUModel.load(model_dir)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("cached NLU model unusable (%s); retraining", exc)
    log.info("training NLU model from %s", data_path)
    model = train_from(load_data(data_path), config, digest)
    try:
        model.save(model_dir)
    except OSError as exc:
        log.warning("could not cache the NLU model in %s: %s", model_dir, exc)
    return model
