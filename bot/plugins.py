"""Plug-ins found through packaging entry points, so the core names no feature package.

A site adds an adapter, a CLI command, a model package, a resource provider or a node executor with
a ``pip install`` of a package that declares it under one of the groups below (see
``pyproject.toml`` for the ones this project ships).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

log = logging.getLogger(__name__)

ADAPTERS = "quartermaster.adapters"  # name -> Adapter class (name = key under ``adapters:``)
CLI = "quartermaster.cli"  # name -> register(subparsers, load_settings)
MODELS = "quartermaster.models"  # tortoise app label -> module with MODELS and MIGRATIONS
PROVIDERS = "quartermaster.providers"  # name -> ResourceProvider factory
EXECUTORS = "quartermaster.executors"  # name -> NodeExecutor factory
ACTIONS = "quartermaster.actions"  # name -> workflow hook action


class PluginError(Exception):
    """A declared plug-in could not be loaded: names the group, the entry and the cause."""


@dataclass(frozen=True, slots=True)
class Plugin:
    group: str
    name: str
    value: str  # "module:attr" as declared
    distribution: str  # the package that declared it

    def load(self) -> Any:
        try:
            return EntryPoint(self.name, self.value, self.group).load()
        except Exception as exc:
            raise PluginError(
                f"{self.group} plug-in {self.name!r} ({self.value}, from "
                f"{self.distribution}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


def declared(group: str) -> dict[str, Plugin]:
    """Every plug-in declared in ``group``, by name; the first declaration of a name wins."""
    found: dict[str, Plugin] = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "?"
        if ep.name in found:
            log.warning(
                "%s plug-in %r is declared twice (%s and %s); using the first",
                group,
                ep.name,
                found[ep.name].distribution,
                dist,
            )
            continue
        found[ep.name] = Plugin(group, ep.name, ep.value, dist)
    return found


def load(group: str, name: str) -> Any:
    """Load one named plug-in; ``PluginError`` when it is not declared or fails to import."""
    plugin = declared(group).get(name)
    if plugin is None:
        known = ", ".join(sorted(declared(group))) or "none"
        raise PluginError(f"no {group} plug-in named {name!r} (installed: {known})")
    return plugin.load()
