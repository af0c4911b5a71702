"""A real installed distribution made on disk for a test: a ``*.dist-info`` directory (and any
modules it points to) under a directory that the test puts on ``sys.path`` or ``PYTHONPATH``.

``importlib.metadata`` finds it like any pip-installed package, so plug-in lookup is tested
through the real entry-point machinery, not a stand-in."""

from __future__ import annotations

from pathlib import Path


def fake_distribution(
    root: Path,
    name: str,
    entry_points: dict[str, dict[str, str]],
    modules: dict[str, str] | None = None,
) -> Path:
    """Write distribution ``name`` declaring ``entry_points`` ({group: {name: value}}) and the
    ``modules`` ({module name: source}) under ``root``; returns ``root``."""
    info = root / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in declared.items()) + "\n"
            for group, declared in entry_points.items()
        )
    )
    for module, source in (modules or {}).items():
        (root / f"{module}.py").write_text(source)
    return root
