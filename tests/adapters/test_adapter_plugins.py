"""Adapters are found through the ``quartermaster.adapters`` entry points, by config key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import plugins
from bot.adapters import enabled_names, factories_from_settings, validate_adapters
from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.shell import ShellAdapter
from bot.adapters.slack import SlackAdapter
from bot.config import Settings
from bot.errors import ConfigError


def test_the_shipped_adapters_are_declared_as_entry_points() -> None:
    declared = plugins.declared(plugins.ADAPTERS)
    assert {
        name: p.value for name, p in declared.items() if name in ("shell", "slack", "mattermost")
    } == {
        "shell": "bot.adapters.shell:ShellAdapter",
        "slack": "bot.adapters.slack:SlackAdapter",
        "mattermost": "bot.adapters.mattermost:MattermostAdapter",
    }


def test_enabled_keys_under_adapters_resolve_to_their_classes_in_config_order() -> None:
    settings = Settings.model_validate(
        {
            "adapters": {
                "shell": {"enabled": True},
                "slack": {"enabled": True, "bot_token": "xoxb-1", "app_token": "xapp-1"},
                "mattermost": {"enabled": True, "url": "http://mm.example", "token": "t" * 26},
            }
        }
    )
    assert enabled_names(settings) == ["shell", "slack", "mattermost"]
    assert factories_from_settings(settings) == [ShellAdapter, SlackAdapter, MattermostAdapter]
    shell_off = Settings.model_validate({"adapters": {"shell": {"enabled": False}}})
    assert factories_from_settings(shell_off) == []


def test_each_enabled_adapter_validates_its_own_keys() -> None:
    settings = Settings.model_validate(
        {"adapters": {"slack": {"enabled": True, "bot_token": "xoxb-1"}}}
    )
    with pytest.raises(ConfigError, match=r"adapters\.slack\.app_token: required in socket mode"):
        validate_adapters(settings)
    disabled = Settings.model_validate({"adapters": {"slack": {"bot_token": "xoxb-1"}}})
    validate_adapters(disabled)  # a platform that is off is not checked


SITE_ADAPTER = """
from bot.adapters.memory import MemoryAdapter


class TeamsAdapter(MemoryAdapter):
    platform = "teams"

    @classmethod
    def validate_settings(cls, settings):
        if not settings.adapters.model_extra["teams"].get("tenant"):
            from bot.errors import ConfigError
            raise ConfigError("adapters.teams.tenant: required")
"""


def test_a_sites_own_adapter_is_switched_on_by_its_key_once_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.plugin_dist import fake_distribution

    site = fake_distribution(
        tmp_path / "site",
        "qm-teams",
        {plugins.ADAPTERS: {"teams": "qm_teams:TeamsAdapter"}},
        {"qm_teams": SITE_ADAPTER},
    )
    monkeypatch.syspath_prepend(str(site))
    settings = Settings.model_validate(
        {"adapters": {"shell": {"enabled": False}, "teams": {"enabled": True, "tenant": "physics"}}}
    )
    assert enabled_names(settings) == ["teams"]
    (factory,) = factories_from_settings(settings)
    assert factory.__name__ == "TeamsAdapter" and factory.platform == "teams"
    validate_adapters(settings)
    untenanted = Settings.model_validate({"adapters": {"teams": {"enabled": True}}})
    with pytest.raises(ConfigError, match=r"adapters\.teams\.tenant: required"):
        validate_adapters(untenanted)


def test_a_key_no_installed_adapter_declares_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError) as err:
        Settings.model_validate({"adapters": {"slak": {"enabled": True}}})
    assert (
        "slak: unknown key (no adapter of that name is installed; installed: mattermost, "
        "shell, slack" in str(err.value)
    )
