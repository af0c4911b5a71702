"""Plug-in lookup through real entry points: a distribution written to disk for the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.plugins import CLI, PluginError, declared, load
from tests.plugin_dist import fake_distribution


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = fake_distribution(
        tmp_path,
        "qm-test-plugins",
        {CLI: {"greet": "qm_test_greet:register", "broken": "qm_test_absent:register"}},
        {"qm_test_greet": "def register(sub, load):\n    return 'registered'\n"},
    )
    monkeypatch.syspath_prepend(str(root))
    return root


def test_declared_plugins_load_by_name(site: Path) -> None:
    found = declared(CLI)
    assert found["greet"].distribution == "qm-test-plugins"
    assert {"nlu", "requests", "vault"} <= set(found)  # this project's own
    assert load(CLI, "greet")(None, None) == "registered"


def test_failures_name_the_group_the_entry_and_the_cause(site: Path) -> None:
    with pytest.raises(PluginError) as broken:
        load(CLI, "broken")
    message = str(broken.value)
    assert "quartermaster.cli plug-in 'broken'" in message and "qm_test_absent" in message
    assert "qm-test-plugins" in message
    with pytest.raises(PluginError, match=r"no quartermaster\.cli plug-in named 'nope'"):
        load(CLI, "nope")
