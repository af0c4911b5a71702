"""Which package may import which: read from the source with ``ast``, so an import inside a
function, under ``TYPE_CHECKING`` or through ``importlib.import_module("…")`` counts too.

The core finds feature packages through entry points (bot/plugins.py) and typed service keys
(bot/services.py); these rules keep it that way (docs/decisions/0009-*.md).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CORE = ("bot/*.py", "bot/storage/**/*.py", "bot/testing/**/*.py")


@dataclass(frozen=True)
class Rule:
    sources: tuple[str, ...]  # globs, relative to the repository root
    forbidden: tuple[str, ...]  # modules and their submodules; "x*": any name starting so
    why: str


RULES = (
    Rule(
        ("nlu/**/*.py",),
        ("bot", "skills", "credentials"),
        "nlu/ is a library: its caller hands it settings and paths",
    ),
    Rule(
        ("credentials/**/*.py",),
        ("skills", "bot.adapters"),
        "the vault serves skills; it does not know them or the platforms",
    ),
    Rule(("bot/adapters/**/*.py",), ("skills", "nlu"), "adapters only translate platform events"),
    Rule(
        CORE,
        (
            "skills",
            "credentials",
            "bot.workflow",
            "bot.adapters.slack*",
            "bot.adapters.mattermost*",
        ),
        "the core reaches features through entry points and service keys",
    ),
)

#: known violations in files other branches are changing; each names why, and goes at merge
ALLOWED: dict[tuple[str, str], str] = {}  # none left: keep it that way


def _modules(tree: ast.AST, path: str) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in the file, relative ones made absolute."""
    package = path.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
    if not path.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _hits(module: str, prefixes: tuple[str, ...]) -> str | None:
    for prefix in prefixes:
        if prefix.endswith("*"):
            if module.startswith(prefix[:-1]):
                return prefix
        elif module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for rule in RULES:
        files = sorted({p for pattern in rule.sources for p in root.glob(pattern)})
        for file in files:
            rel = file.relative_to(root).as_posix()
            tree = ast.parse(file.read_text(encoding="utf-8"), rel)
            seen = set()
            for line, module in sorted(_modules(tree, rel)):
                prefix = _hits(module, rule.forbidden)
                if prefix is None or (rel, prefix) in ALLOWED or (rel, prefix) in seen:
                    continue
                seen.add((rel, prefix))
                found.append(f"{rel}:{line} imports {module} ({rule.why})")
    return found


def test_no_package_imports_across_a_boundary() -> None:
    assert violations() == []


#: what the rest of the project may import of nlu/: its package (``__all__``), the normalisers'
#: package and the command line it mounts; never a module inside (``nlu.normalise.sizes``)
NLU_PUBLIC = frozenset({"nlu", "nlu.normalise", "nlu.cli"})


def nlu_internals(root: Path = ROOT) -> list[str]:
    found = []
    outside = ("bot", "skills", "credentials")
    for file in sorted(p for d in outside for p in root.glob(f"{d}/**/*.py")):
        rel = file.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), rel)):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            found += [
                f"{rel}:{node.lineno} imports {name}"
                for name in names
                if _hits(name, ("nlu",)) and name not in NLU_PUBLIC
            ]
    return found


def test_nlu_is_used_only_through_its_public_modules(tmp_path: Path) -> None:
    assert nlu_internals() == []
    (tmp_path / "bot" / "workflow").mkdir(parents=True)
    (tmp_path / "bot" / "workflow" / "x.py").write_text(
        "from nlu.normalise import unit_bytes\nfrom nlu.normalise.sizes import SIZE_RE\n"
    )
    assert nlu_internals(tmp_path) == ["bot/workflow/x.py:2 imports nlu.normalise.sizes"]


def test_every_allowance_is_still_needed() -> None:
    """An allow-list entry whose import is gone must go too, so the list only shrinks."""
    for (rel, prefix), why in ALLOWED.items():
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"), rel)
        assert any(_hits(m, (prefix,)) for _, m in _modules(tree, rel)), (rel, prefix, why)


def test_a_new_forbidden_import_is_caught(tmp_path: Path) -> None:
    """Each form of import is seen: top level, in a function, under TYPE_CHECKING, relative,
    and by name through importlib."""
    (tmp_path / "nlu" / "sub").mkdir(parents=True)
    (tmp_path / "bot" / "adapters").mkdir(parents=True)
    (tmp_path / "credentials").mkdir()
    (tmp_path / "nlu" / "a.py").write_text("import bot.paths\n")
    (tmp_path / "nlu" / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot import app\n"
    )
    (tmp_path / "credentials" / "c.py").write_text("def f():\n    from skills import credentials\n")
    (tmp_path / "bot" / "adapters" / "d.py").write_text("from ...nlu import result\n")
    (tmp_path / "bot" / "e.py").write_text(
        "import importlib\nimportlib.import_module('credentials.cli')\n"
        "from bot.adapters import slack\nfrom bot.adapters import factories\n"
    )
    (tmp_path / "bot" / "adapters" / "ok.py").write_text("from bot.events import Message\n")
    found = violations(tmp_path)
    assert [f.split(" (")[0] for f in found] == [
        "nlu/a.py:1 imports bot.paths",
        "nlu/sub/b.py:3 imports bot",
        "credentials/c.py:2 imports skills",
        "bot/adapters/d.py:1 imports nlu",
        "bot/e.py:2 imports credentials.cli",
        "bot/e.py:3 imports bot.adapters.slack",
    ]
