"""Test harness: an in-process bot to talk to (like errbot's testbot), shipped for skills too."""

from bot.testing.clock import FakeClock
from bot.testing.harness import TestBot

__all__ = ["FakeClock", "TestBot"]
