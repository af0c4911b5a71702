"""Adapters are found through the ``quartermaster.adapters`` entry points, by config key."""

from __future__ import annotations

import pytest

from bot import plugins
from bot.adapters import enabled_names, factories_from_settings, validate_adapters
from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.shell import ShellAdapter
from bot.adapters.slack import SlackAdapter
from bot.config import Settings
from bot.errors import ConfigError


def test_the_shipped_adapters_are_declared_as_entry_points() -> None:
    declared = plugins.declared(plugins.ADAPTERS)
    assert {name: p.value for name, p in declared.items()
            if name in ("shell", "slack", "mattermost")} == {
        "shell": "bot.adapters.shell:ShellAdapter",
        "slack": "bot.adapters.slack:SlackAdapter",
        "mattermost": "bot.adapters.mattermost:MattermostAdapter"}


def test_enabled_keys_under_adapters_resolve_to_their_classes_in_config_order() -> None:
    settings = Settings.model_validate({"adapters": {
        "shell": {"enabled": True},
        "slack": {"enabled": True, "bot_token": "xoxb-1", "app_token": "xapp-1"},
        "mattermost": {"enabled": True, "url": "http://mm.example", "token": "t" * 26}}})
    assert enabled_names(settings) == ["shell", "slack", "mattermost"]
    assert factories_from_settings(settings) == [ShellAdapter, SlackAdapter, MattermostAdapter]
    shell_off = Settings.model_validate({"adapters": {"shell": {"enabled": False}}})
    assert factories_from_settings(shell_off) == []


def test_each_enabled_adapter_validates_its_own_keys() -> None:
    settings = Settings.model_validate({"adapters": {
        "slack": {"enabled": True, "bot_token": "xoxb-1"}}})
    with pytest.raises(ConfigError, match=r"adapters\.slack\.app_token: required in socket mode"):
        validate_adapters(settings)
    disabled = Settings.model_validate({"adapters": {"slack": {"bot_token": "xoxb-1"}}})
    validate_adapters(disabled)          # a platform that is off is not checked


def test_an_enabled_platform_that_is_not_installed_is_a_config_error_naming_its_key() -> None:
    from pydantic import BaseModel

    settings = Settings.model_validate({"adapters": {"shell": {"enabled": False}}})

    class Extra(BaseModel):
        enabled: bool = True

    # bot/config.py accepts only the shipped platforms' keys so far; this is how a site's own
    # key (``adapters.teams``) arrives once it accepts more
    object.__setattr__(settings.adapters, "__pydantic_extra__", {"teams": Extra()})
    assert enabled_names(settings) == ["teams"]
    with pytest.raises(ConfigError, match=r"adapters\.teams: no quartermaster\.adapters "
                                          r"plug-in named 'teams'"):
        factories_from_settings(settings)
