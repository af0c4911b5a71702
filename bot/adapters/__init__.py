"""Platform adapters; which ones run is decided by the ``adapters`` section of the config.

Each key under ``adapters:`` names an entry point in the ``quartermaster.adapters`` group (this
package declares ``shell``, ``slack`` and ``mattermost`` in pyproject.toml), so a site adds a
platform with a ``pip install`` and the core names none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot import plugins
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.app import AdapterFactory
    from bot.config import Settings


def enabled_names(settings: Settings) -> list[str]:
    """The keys under ``adapters:`` with ``enabled: true``, in config order."""
    adapters = settings.adapters
    sections: dict[str, Any] = {
        name: getattr(adapters, name) for name in type(adapters).model_fields
    }
    sections.update(adapters.model_extra or {})
    return [name for name, section in sections.items() if _enabled(section)]


def _enabled(section: Any) -> bool:
    if isinstance(section, dict):
        return bool(section.get("enabled", False))
    return bool(getattr(section, "enabled", False))


def factories_from_settings(settings: Settings) -> list[AdapterFactory]:
    """The adapter class of every enabled platform, loaded through its entry point; a platform
    that is not installed (or fails to import) is a ``ConfigError`` naming its key."""
    factories: list[AdapterFactory] = []
    for name in enabled_names(settings):
        try:
            factories.append(plugins.load(plugins.ADAPTERS, name))
        except plugins.PluginError as exc:
            raise ConfigError(f"adapters.{name}: {exc}") from None
    return factories


def validate_adapters(settings: Settings) -> None:
    """Each enabled platform validates its own keys (errors name ``adapters.<name>.<key>``)."""
    for factory in factories_from_settings(settings):
        validate = getattr(factory, "validate_settings", None)
        if validate is not None:
            validate(settings)
