"""The providers VMs can be created on, built once per skill load from ``providers:`` and kept
open (the libvirt test driver forgets its machines when its last connection closes).

Credentials: a provider that acts as the requester names the vault entry it needs
(``credential_name``); ``credential_for`` reads the owner's secret through the vault's scoped
use (audited, shown as last used in ``vault list``) for one call and nothing keeps it after."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError, UserError
from bot.providers import (
    Credential,
    CredentialRequired,
    ResourceProvider,
    provider_from_config,
)
from bot.services import SECRETS, ServiceKey

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

SKILL = "vms"  # the vault records uses under this skill name


class MissingCredential(UserError):
    """The owner has no secret the provider needs: they are told how to store one."""

    def __init__(self, provider: str, name: str) -> None:
        self.provider, self.name = provider, name
        super().__init__(
            f"To create VMs on {provider} I act as you, with your own {name} application "
            f"credential, and you have none stored. In a direct message to me say "
            f"`store my {name} token` and paste it; I'll carry on with your request then."
        )


def refused(provider: str, name: str | None) -> str:
    """A clear next step when the provider refused the stored credential."""
    if name is None:
        return f"{provider} refused the request; an admin should check the bot's configuration."
    return (
        f"{provider} refused your stored `{name}` credential (revoked, expired or wrong?). "
        f"Create a new application credential, then in a direct message to me say "
        f"`replace my {name} token` and paste it, and ask again."
    )


class ProviderRegistry:
    """``app.services[PROVIDERS]``: providers by name, and the credential to call them with."""

    def __init__(self, app: Application, providers: dict[str, ResourceProvider]) -> None:
        self.app = app
        self.providers = providers
        self.problems: dict[str, str] = {}

    @classmethod
    def build(cls, app: Application, wanted: list[str]) -> ProviderRegistry:
        """Every wanted (default: configured) provider that builds; one that does not is logged
        and named when someone asks for it, so the bot still starts."""
        configured: dict[str, Any] = dict(app.settings.providers)
        names = wanted or sorted(configured)
        registry = cls(app, {})
        for name in names:
            try:
                registry.providers[name] = provider_from_config(name, configured)
            except ConfigError as exc:
                log.error("VM provider %s is not available: %s", name, exc)
                registry.problems[name] = str(exc)
        return registry

    @property
    def names(self) -> list[str]:
        return sorted(self.providers)

    def get(self, name: str) -> ResourceProvider:
        provider = self.providers.get(name)
        if provider is None:
            if name in self.problems:
                raise UserError(f"{name} is not working right now; an admin can see why in my log.")
            offered = ", ".join(self.names) or "none"
            raise UserError(f"I can't create VMs on {name[:40]}; I offer: {offered}.")
        return provider

    async def credential_for(self, provider: ResourceProvider, owner_key: str) -> Credential | None:
        """The owner's secret for ``provider``, read through the vault's audited use, or None
        for a provider that needs none. ``MissingCredential`` when there is none stored."""
        name = provider.credential_name
        if name is None:
            return None
        vault = self.app.services.get(SECRETS)
        if vault is None:
            raise UserError(
                f"The vault isn't available right now, so I can't use your {name} credential; "
                "an admin can see why in my log."
            )
        from credentials.errors import SecretNotFound

        try:
            secret: Credential = await vault.secret_for_user(owner_key, name, skill=SKILL)
        except SecretNotFound:
            raise MissingCredential(provider.name, name) from None
        return secret

    async def has_credential(self, provider: ResourceProvider, owner_key: str) -> bool:
        """Whether the owner stored what ``provider`` needs (names only: nothing is opened)."""
        name = provider.credential_name
        if name is None:
            return True
        from credentials.vault import VAULT

        vault = self.app.services.get(VAULT)
        return vault is not None and await vault.info(owner_key, name) is not None

    async def close(self) -> None:
        for name, provider in self.providers.items():
            try:
                await provider.close()
            except Exception as exc:  # closing one must not keep the others open
                log.warning("closing provider %s failed: %s", name, type(exc).__name__)


def explain(exc: Exception, provider: ResourceProvider) -> str:
    """What to tell the user about a provider failure."""
    if isinstance(exc, CredentialRequired):
        return refused(provider.name, provider.credential_name)
    if isinstance(exc, UserError):
        return str(exc)
    return (
        f"{provider.name} failed unexpectedly ({type(exc).__name__}); staff can see it in my log."
    )


PROVIDERS: ServiceKey[ProviderRegistry] = ServiceKey("vm_providers")


def registry(app: Application) -> ProviderRegistry:
    found = app.services.get(PROVIDERS)
    if found is None:
        raise UserError("VMs are switched off here (the vms skill is not loaded).")
    return found
