"""NLUSettings.from_mapping: accepted values and one clear message per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nlu import NLUSettings


def test_defaults() -> None:
    s = NLUSettings.from_mapping({})
    assert (s.backend, s.rasa_url, s.rasa_timeout, s.threshold) == ("embedded", None, 3.0, None)
    assert s.clusters == [] and s.data is None and s.model_dir is None


def test_full_mapping() -> None:
    s = NLUSettings.from_mapping(
        {
            "backend": "rasa",
            "rasa_url": "http://127.0.0.1:5005/",
            "rasa_timeout": 1.5,
            "threshold": 0.6,
            "clusters": ["grace", "aces"],
            "data": "~/nlu",
            "model_dir": "/tmp/m",
        }
    )
    assert s.backend == "rasa" and s.rasa_url == "http://127.0.0.1:5005"
    assert s.rasa_timeout == 1.5 and s.threshold == 0.6
    assert s.clusters == ["grace", "aces"]
    assert s.data == Path("~/nlu").expanduser() and s.model_dir == Path("/tmp/m")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"backend": "foo"}, "nlu.backend: must be 'embedded' or 'rasa', got 'foo'"),
        ({"backend": "rasa"}, "nlu.rasa_url: required"),
        ({"rasa_url": "ftp://x"}, "nlu.rasa_url: must be an http(s) URL"),
        ({"rasa_timeout": 0}, "nlu.rasa_timeout: must be a positive number"),
        ({"rasa_timeout": "3"}, "nlu.rasa_timeout: must be a positive number"),
        ({"threshold": 1.5}, "nlu.threshold: must be a number between 0 and 1"),
        ({"threshold": True}, "nlu.threshold"),
        ({"clusters": "grace"}, "nlu.clusters: must be a list"),
        ({"clusters": ["ok", ""]}, "nlu.clusters: every name"),
        ({"data": 3}, "nlu.data: must be a path"),
        ({"colour": "red"}, "nlu.colour: unknown key"),
    ],
)
def test_errors_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as err:
        NLUSettings.from_mapping(raw)
    assert message in str(err.value)


def test_not_a_mapping() -> None:
    with pytest.raises(ValueError, match="nlu: must be a mapping"):
        NLUSettings.from_mapping(["x"])  # type: ignore[arg-type]


def test_paths_come_from_the_caller(tmp_path: Path) -> None:
    """The bot hands its directories in; a path set in the mapping still wins."""
    given = NLUSettings.from_mapping({"model_dir": str(tmp_path / "mine")})
    located = given.located(data=tmp_path / "data", model_dir=tmp_path / "cache")
    assert located.data_path() == tmp_path / "data"
    assert located.model_path() == tmp_path / "mine"


def test_standalone_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a caller (``python -m nlu``): the environment, else ./config/nlu."""
    monkeypatch.setenv("QUARTERMASTER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("QUARTERMASTER_CONFIG_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    s = NLUSettings()
    assert s.data_path() == tmp_path / "config" / "nlu"
    assert s.model_path() == tmp_path / "home" / "nlu"
    monkeypatch.setenv("QUARTERMASTER_CONFIG_DIR", str(tmp_path / "conf"))
    assert s.data_path() == tmp_path / "conf" / "nlu"
