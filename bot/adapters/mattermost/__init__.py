"""Mattermost: websocket events in, REST v4 out (see docs/mattermost.md)."""

from bot.adapters.mattermost.adapter import MattermostAdapter, MattermostStartupError

__all__ = ["MattermostAdapter", "MattermostStartupError"]
