"""Service keys shared by test skills (re-imported on every reload) and the tests that read them:
a key is matched by identity, so it must live in a module that is imported once."""

from __future__ import annotations

import asyncio

from bot.services import ServiceKey

TICKS: ServiceKey[int] = ServiceKey("ticks", int)
NIGHTLY: ServiceKey[bool] = ServiceKey("nightly", bool)
#: written by the skill of tests/test_scope.py
WIDGETS: ServiceKey[list[str]] = ServiceKey("test-widgets")
#: set by the blocking job of tests/test_scheduler_http.py once it runs
JOB_STARTED: ServiceKey[asyncio.Event] = ServiceKey("job-started", asyncio.Event)
