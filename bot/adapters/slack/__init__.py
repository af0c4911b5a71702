"""Slack: slack-bolt over Socket Mode or the HTTP Events API (see docs/slack.md)."""

from bot.adapters.slack.adapter import SlackAdapter
from bot.adapters.slack.startup import SlackStartupError

__all__ = ["SlackAdapter", "SlackStartupError"]
