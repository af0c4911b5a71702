"""Fixtures for the NLU tests: one model trained per session from config/nlu, in a temp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu import NLUSettings, load_parser
from nlu.embedded import EmbeddedParser

ROOT = Path(__file__).resolve().parents[2]
TRAINING_DATA = ROOT / "config" / "nlu"

TINY_DATA = """\
version: "3.1"
nlu:
- intent: node_action
  examples: |
    - [drain](action) [c[001-010]](node)
    - [reboot](action) [wn0189](node) please
    - please [drain](action) [gpu[05-08]](node)
    - [undrain](action) [c042](node)
    - [resume](action) [c[100-102]](node) now
    - can you [reboot](action) [c7](node)
- intent: request_quota
  examples: |
    - I need [5TB](size) more on [/scratch/lab](path)
    - more space on [/home/jdoe](path) please
    - quota increase of [2 TB](size)
    - can I get [750 GB](size) on [$SCRATCH](path)
    - my disk is full, more quota please
    - raise my storage quota
- intent: greet
  examples: |
    - hi
    - hello
    - thanks
    - good morning
    - hey there
    - thank you
- intent: out_of_scope
  examples: |
    - what's the weather
    - tell me a joke
    - who won the match
    - order a pizza
    - what is the capital of peru
    - play some music
- synonym: resume
  examples: |
    - undrain
"""


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("nlu-model")


@pytest.fixture(scope="session")
def settings(model_dir: Path) -> NLUSettings:
    return NLUSettings(data=TRAINING_DATA, model_dir=model_dir, clusters=["grace", "aces"])


@pytest.fixture(scope="session")
def parser(settings: NLUSettings) -> EmbeddedParser:
    """The real model, trained once per session from config/nlu."""
    loaded = load_parser(settings)
    assert isinstance(loaded, EmbeddedParser)
    return loaded


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A small training set that trains in well under a second."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "nlu.yml").write_text(TINY_DATA, encoding="utf-8")
    (data / "config.yml").write_text("embedded:\n  intent:\n    folds: 2\n", encoding="utf-8")
    return data


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's data directory."""
    monkeypatch.setenv("QUARTERMASTER_HOME", str(tmp_path / "qm-home"))
