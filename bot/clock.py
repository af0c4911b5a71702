"""What time it is, as a seam: the scheduler, reminders, observers and retries ask ``app.clock``.

Production uses ``SystemClock``; tests pass ``bot.testing.FakeClock`` and move time forward
instead of sleeping or back-dating rows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"
