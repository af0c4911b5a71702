"""Platform adapters; which ones run is decided by the ``adapters`` section of the config."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import AdapterFactory
    from bot.config import Settings


def factories_from_settings(settings: Settings) -> list[AdapterFactory]:
    factories: list[AdapterFactory] = []
    if settings.adapters.shell.enabled:
        from bot.adapters.shell import ShellAdapter

        factories.append(ShellAdapter)
    if settings.adapters.slack.enabled:
        from bot.adapters.slack import SlackAdapter

        factories.append(SlackAdapter)
    if settings.adapters.mattermost.enabled:
        from bot.adapters.mattermost import MattermostAdapter

        factories.append(MattermostAdapter)
    return factories
