"""NLU settings: which backend answers, where the model and its training data live.

Kept free of heavy imports so that the bot can validate its configuration without loading a model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

BACKENDS = ("embedded", "rasa")


@dataclass
class NLUSettings:
    """How the bot understands messages (the ``nlu:`` section of ``quartermaster.yml``)."""

    backend: str = "embedded"
    rasa_url: str | None = None
    rasa_timeout: float = 3.0
    threshold: float | None = None
    clusters: list[str] = field(default_factory=list)
    data: Path | None = None
    model_dir: Path | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> NLUSettings:
        """Validate a raw mapping; errors name the key (``nlu.<key>``) and the problem."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"nlu: must be a mapping, got {type(raw).__name__}")
        known = {
            "backend",
            "rasa_url",
            "rasa_timeout",
            "threshold",
            "clusters",
            "data",
            "model_dir",
        }
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise ValueError(f"nlu.{unknown[0]}: unknown key (known: {', '.join(sorted(known))})")
        out = cls()
        if "backend" in raw:
            backend = raw["backend"]
            if backend not in BACKENDS:
                raise ValueError(f"nlu.backend: must be 'embedded' or 'rasa', got {backend!r}")
            out.backend = backend
        if raw.get("rasa_url") is not None:
            url = raw["rasa_url"]
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ValueError(f"nlu.rasa_url: must be an http(s) URL, got {url!r}")
            out.rasa_url = url.rstrip("/")
        if out.backend == "rasa" and not out.rasa_url:
            raise ValueError("nlu.rasa_url: required when nlu.backend is 'rasa'")
        if "rasa_timeout" in raw:
            out.rasa_timeout = _positive_float("rasa_timeout", raw["rasa_timeout"])
        if raw.get("threshold") is not None:
            value = raw["threshold"]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"nlu.threshold: must be a number between 0 and 1, got {value!r}")
            out.threshold = float(value)
        if raw.get("clusters") is not None:
            clusters = raw["clusters"]
            if isinstance(clusters, str) or not isinstance(clusters, list | tuple):
                raise ValueError(f"nlu.clusters: must be a list of names, got {clusters!r}")
            for name in clusters:
                if not isinstance(name, str) or not name.strip():
                    raise ValueError(
                        f"nlu.clusters: every name must be a non-empty string, got {name!r}"
                    )
            out.clusters = [c.strip() for c in clusters]
        for key in ("data", "model_dir"):
            if raw.get(key) is not None:
                value = raw[key]
                if not isinstance(value, str | Path) or not str(value):
                    raise ValueError(f"nlu.{key}: must be a path, got {value!r}")
                setattr(out, key, Path(value).expanduser())
        return out

    def located(self, *, data: Path, model_dir: Path) -> NLUSettings:
        """A copy whose unset paths are the caller's: the bot passes its config and data
        directories here, so this package never needs to know where the bot keeps its files."""
        return replace(
            self,
            data=self.data if self.data is not None else data,
            model_dir=self.model_dir if self.model_dir is not None else model_dir,
        )

    def data_path(self) -> Path:
        """The training data directory; standalone default ``$QUARTERMASTER_CONFIG_DIR/nlu``,
        else ``config/nlu`` under the current directory (a checkout's root)."""
        if self.data is not None:
            return self.data
        override = os.environ.get("QUARTERMASTER_CONFIG_DIR")
        return (Path(override).expanduser() if override else Path.cwd() / "config") / "nlu"

    def model_path(self) -> Path:
        """The model cache directory; standalone default ``$QUARTERMASTER_HOME/nlu``, else
        ``nlu`` in the user's data directory (the same cache the bot uses by default)."""
        if self.model_dir is not None:
            return self.model_dir
        home = os.environ.get("QUARTERMASTER_HOME")
        if home:
            return Path(home).expanduser() / "nlu"
        from platformdirs import user_data_dir

        return Path(user_data_dir("quartermaster", appauthor=False)) / "nlu"


def _positive_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"nlu.{key}: must be a positive number, got {value!r}")
    return float(value)
