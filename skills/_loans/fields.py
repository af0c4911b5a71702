"""Small conversions of NLU entity values for loans."""

from __future__ import annotations

from typing import Any

from bot.workflow.fields import duration_seconds


def duration_days(value: Any) -> int | None:
    """Whole days in an ISO duration entity ("P1M" is 30, "P2W" 14), None if none."""
    if not isinstance(value, str):
        return None
    seconds = duration_seconds(value)
    if not seconds:
        return None
    return max(1, seconds // 86400)
