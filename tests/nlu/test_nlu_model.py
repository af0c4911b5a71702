"""Training, the on-disk cache, staleness detection and load time of the embedded model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlu import NLUSettings, load_parser
from nlu.embedded import EmbeddedParser
from nlu.model import (
    FORMAT_VERSION,
    NLUModel,
    TrainConfig,
    data_hash,
    load_or_train,
    stored_hash,
)


def test_train_save_and_load_give_identical_parses(tiny_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    trained = load_or_train(tiny_data, cache)
    assert (cache / "current" / "model.json").is_file()
    assert stored_hash(cache) == data_hash(tiny_data, TrainConfig.from_data_dir(tiny_data))
    loaded = NLUModel.load(cache)
    for text in ("drain c[001-003]", "I need 3TB more on /scratch/x", "hello", "pizza time"):
        assert loaded.parse(text) == trained.parse(text)


def test_cached_model_is_reused_when_nothing_changed(tiny_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = load_or_train(tiny_data, cache)
    second = load_or_train(tiny_data, cache)
    assert second.meta["trained_at"] == first.meta["trained_at"]
    assert second.meta["hash"] == first.meta["hash"]


@pytest.mark.parametrize("change", ["data", "config", "new_file"])
def test_stale_model_is_retrained(tiny_data: Path, tmp_path: Path, change: str) -> None:
    cache = tmp_path / "cache"
    old = load_or_train(tiny_data, cache).meta["hash"]
    if change == "data":
        path = tiny_data / "nlu.yml"
        path.write_text(path.read_text() + "    - howdy\n", encoding="utf-8")
    elif change == "config":
        (tiny_data / "config.yml").write_text("embedded:\n  intent:\n    c: 5\n", encoding="utf-8")
    else:
        (tiny_data / "more.yml").write_text(
            "nlu:\n- intent: greet\n  examples: |\n    - hiya\n", encoding="utf-8"
        )
    model = load_or_train(tiny_data, cache)
    assert model.meta["hash"] != old
    assert stored_hash(cache) == model.meta["hash"]


def test_corrupt_cache_is_replaced(tiny_data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    load_or_train(tiny_data, cache)
    (cache / "current" / "intent.npz").write_bytes(b"not numpy")
    model = load_or_train(tiny_data, cache)
    assert model.parse("drain c001").intent.name == "node_action"
    NLUModel.load(cache)  # the cache was rewritten and loads again


def test_unwritable_cache_still_gives_a_model(tiny_data: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    model = load_or_train(tiny_data, blocker / "cache")
    assert model.parse("hello").intent.name == "greet"


def test_bad_config_setting_is_reported(tiny_data: Path) -> None:
    from nlu.data import DataError

    (tiny_data / "config.yml").write_text("embedded:\n  intent:\n    colour: 3\n")
    with pytest.raises(DataError, match=r"embedded\.intent\.colour: unknown setting"):
        TrainConfig.from_data_dir(tiny_data)


def test_load_parser_uses_settings_paths(tiny_data: Path, tmp_path: Path) -> None:
    settings = NLUSettings(data=tiny_data, model_dir=tmp_path / "m")
    parser = load_parser(settings)
    assert isinstance(parser, EmbeddedParser)
    assert (tmp_path / "m" / "current" / "tagger.crfsuite").is_file()


def test_default_model_dir_is_under_quartermaster_home(tiny_data: Path, tmp_path: Path) -> None:
    load_parser(NLUSettings(data=tiny_data))
    assert (tmp_path / "qm-home" / "nlu" / "current" / "model.json").is_file()


def test_model_files_need_no_pickle(parser: EmbeddedParser, settings: NLUSettings) -> None:
    base = settings.model_path() / "current"
    assert sorted(p.name for p in base.iterdir()) == ["intent.npz", "model.json", "tagger.crfsuite"]
    meta = json.loads((base / "model.json").read_text())
    assert meta["format"] == FORMAT_VERSION and len(meta["hash"]) == 64
    assert "known_words" in meta and "quota" in meta["known_words"]


def test_full_model_is_loaded_from_the_cache(parser: EmbeddedParser, settings: NLUSettings) -> None:
    """Load time itself is measured by bench/nlu.py; here: a second start does not retrain."""
    cached = json.loads((settings.model_path() / "current" / "model.json").read_text())
    model = load_or_train(settings.data_path(), settings.model_path())
    assert model.meta["trained_at"] == cached["trained_at"]
