"""Service keys shared by test skills (re-imported on every reload) and the tests that read them:
a key is matched by identity, so it must live in a module that is imported once."""

from __future__ import annotations

from bot.services import ServiceKey

TICKS: ServiceKey[int] = ServiceKey("ticks", int)
NIGHTLY: ServiceKey[bool] = ServiceKey("nightly", bool)
#: written by the skill of tests/test_scope.py
WIDGETS: ServiceKey[list[str]] = ServiceKey("test-widgets")
