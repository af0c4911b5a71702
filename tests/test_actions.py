"""The action registry: skills add and lose actions by owner; installed packages declare them
in the ``quartermaster.actions`` entry-point group (a real dist-info on sys.path)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.actions import ActionRegistry, ActionResult, ActionRun
from bot.plugins import PluginError


async def noop(run: ActionRun) -> ActionResult:
    return ActionResult(True, "done")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    module = f"qmt_actions_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "site"
    root.mkdir()
    (root / f"{module}.py").write_text(
        "from bot.actions import ActionResult\n\n"
        "async def drain_node(run):\n    return ActionResult(True, 'drained')\n"
    )
    info = root / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[quartermaster.actions]\ndrain_node = {module}:drain_node\n"
        f"broken_action = {module}_missing:nothing\n"
    )
    monkeypatch.syspath_prepend(str(root))
    yield module
    sys.modules.pop(module, None)


def test_actions_belong_to_their_owner() -> None:
    registry = ActionRegistry()
    registry.add("create_vm", noop, owner="vms")
    registry.add("create_vm", noop, owner="vms")  # a reload re-registers: fine
    with pytest.raises(ValueError, match="already registered by vms"):
        registry.add("create_vm", noop, owner="other")
    assert registry.get("create_vm") is noop and "create_vm" in registry.names()
    assert registry.remove_owner("vms") == ["create_vm"]
    assert registry.get("create_vm") is None


def test_installed_packages_declare_actions_by_entry_point(installed: str) -> None:
    registry = ActionRegistry()
    assert {"drain_node", "broken_action"} <= registry.names()
    func = registry.get("drain_node")
    assert func is not None and func.__module__ == installed
    with pytest.raises(PluginError, match="broken_action"):
        registry.get("broken_action")
