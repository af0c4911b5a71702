"""Hypothesis profiles for the fuzz suite: ``ci`` (default, ~12,000 inputs in about a minute)
and ``nightly`` (ten times more), chosen with ``QM_FUZZ=nightly`` (docs/testing.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

SCALE = {"ci": 1, "nightly": 10}
PROFILE = os.environ.get("QM_FUZZ", "ci")

for name in SCALE:
    settings.register_profile(
        name,
        deadline=None,
        derandomize=name == "ci",  # CI runs are repeatable; nightly explores new inputs
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
settings.load_profile(PROFILE)

from bot.workflow.loader import load_types  # noqa: E402
from bot.workflow.spec import RequestType  # noqa: E402


def examples(ci: int) -> int:
    """``ci`` examples under the CI profile, scaled up for the nightly one."""
    return ci * SCALE.get(PROFILE, 1)


@pytest.fixture(scope="session")
def quota_spec() -> RequestType:
    """The shipped quota request type (sizes, paths, text, a purchase reference)."""
    return load_types(Path(__file__).resolve().parents[2] / "config" / "workflows")["quota"]
