"""Resource providers: the interface behind "create me a VM" (libvirt, OpenStack, … as plug-ins).

A provider is found by name in the ``quartermaster.providers`` entry-point group and built
from its section of the configuration (``providers: {libvirt: {uri: …}}``); it validates that
section itself. Long steps report progress through a ``Progress`` callback, which chat flows
turn into one edited status message (``StatusMessage``) instead of a flood of posts.
Failures are ``ProviderError``s whose message is fit to show the user as is.

Per-user credentials: a provider that acts as the requester (OpenStack with the requester's
application credential) names the vault entry it needs in ``credential_name``; the caller reads
that person's secret from the vault for the one call and passes it as ``credential=``. A
site-level provider (libvirt on the bot's own host) has ``credential_name = None`` and is called
with ``credential=None``. Providers never store the secret beyond the call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot import plugins
from bot.errors import ConfigError, UserError

if TYPE_CHECKING:
    from bot.app import Application
    from bot.events import PostedRef

log = logging.getLogger(__name__)


class Progress(Protocol):
    """``await progress("booting", "vm-12 got 10.0.0.5")``: one step of a long operation."""

    def __call__(self, step: str, detail: str = "") -> Awaitable[None]: ...


async def no_progress(step: str, detail: str = "") -> None:
    """A ``Progress`` that reports nowhere (CLI, reconcile runs)."""


# -- the data ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """What to create. ``extra`` holds provider-specific keys (network, key pair, …)."""

    kind: str  # "vm", "volume", …
    name: str
    owner: str  # user key of whoever will own it
    image: str | None = None
    flavor: str | None = None
    cpus: int | None = None
    memory_mb: int | None = None
    disk_gb: int | None = None
    expires_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class ResourceState(StrEnum):
    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class ResourceStatus:
    state: ResourceState
    detail: str = ""
    addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProvisionedResource:
    """What a provider created: ``external_id`` is the provider's own id, kept in the table."""

    provider: str
    external_id: str
    name: str
    status: ResourceStatus
    expires_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Usage:
    """Usage over a recent window, for idle detection (``cpu_percent`` averaged)."""

    cpu_percent: float
    since: datetime
    until: datetime
    details: Mapping[str, Any] = field(default_factory=dict)


# -- errors people can read ----------------------------------------------------------------------
class ProviderError(UserError):
    """A provider failure whose message can be shown to the user verbatim."""


class QuotaExceeded(ProviderError):
    pass


class ResourceNotFound(ProviderError):
    pass


class BackendUnavailable(ProviderError):
    """The cloud/hypervisor did not answer; trying later may work."""


class InvalidSpec(ProviderError):
    """The request names an image/flavor/size the provider does not offer."""


class CredentialRequired(ProviderError):
    """The provider acts as the requester and no usable credential was given."""


# -- the interface -------------------------------------------------------------------------------
class Credential(Protocol):
    """A vaulted secret handed over for one call (``credentials.secret.Secret`` is one);
    ``reveal()`` only at the moment of use, never logged."""

    def reveal(self) -> str: ...


@runtime_checkable
class ResourceProvider(Protocol):
    """Every call may block on the network: implementations keep blocking client libraries off
    the event loop (``asyncio.to_thread``) and bound each call with a timeout, raising
    ``BackendUnavailable`` when it passes."""

    name: str
    credential_name: str | None  # vault entry of the requester it needs, e.g. "openstack"

    async def create(
        self, spec: ResourceSpec, progress: Progress, *, credential: Credential | None = None
    ) -> ProvisionedResource: ...

    async def status(
        self, external_id: str, *, credential: Credential | None = None
    ) -> ResourceStatus: ...

    async def usage(
        self, external_id: str, since: datetime, *, credential: Credential | None = None
    ) -> Usage: ...

    async def extend(
        self, external_id: str, until: datetime, *, credential: Credential | None = None
    ) -> None: ...

    async def delete(
        self, external_id: str, progress: Progress, *, credential: Credential | None = None
    ) -> None: ...

    async def list(self, *, credential: Credential | None = None) -> list[ProvisionedResource]:
        """Everything this provider holds that the credential can see (for reconciling)."""
        ...

    async def close(self) -> None:
        """Release connections at the bot's stop."""
        ...


class ProviderFactory(Protocol):
    """What the entry point names: called with the provider's config section."""

    def __call__(self, config: Mapping[str, Any]) -> ResourceProvider: ...


def provider_from_config(name: str, providers: Mapping[str, Any]) -> ResourceProvider:
    """Build the provider ``name`` from the ``providers:`` section; ``ConfigError`` names the
    key when it is not configured, not installed, or rejects its settings."""
    section = providers.get(name)
    if section is None:
        known = ", ".join(sorted(providers)) or "none"
        raise ConfigError(f"providers.{name}: not configured (configured: {known})")
    if not isinstance(section, Mapping):
        raise ConfigError(f"providers.{name}: must be a mapping of settings")
    try:
        factory: ProviderFactory = plugins.load(plugins.PROVIDERS, name)
    except plugins.PluginError as exc:
        raise ConfigError(f"providers.{name}: {exc}") from None
    try:
        provider = factory(section)
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"providers.{name}: {exc}") from None
    if not isinstance(provider, ResourceProvider):
        raise ConfigError(
            f"providers.{name}: {type(provider).__name__} is not a "
            "ResourceProvider (create, status, usage, extend, delete, list, close)"
        )
    return provider


# -- progress in chat ----------------------------------------------------------------------------
class StatusMessage:
    """One status message that is edited as progress arrives: posted on the first step,
    updated after, so "creating → booting → ready" is one message, not four."""

    def __init__(
        self,
        app: Application,
        platform: str,
        channel: str,
        *,
        thread: str | None = None,
        title: str = "",
        dm_to: str | None = None,
    ) -> None:
        """Post in ``channel`` (and ``thread``), or as a DM to the user key ``dm_to``."""
        self.app = app
        self.dm_to = dm_to
        self.platform = platform
        self.channel = channel
        self.thread = thread
        self.title = title
        self.ref: PostedRef | None = None
        self.steps: list[str] = []

    def render(self, final: bool = False) -> str:
        """Done steps ticked, the current one with an ellipsis; a final word stands alone."""
        lines = [self.title] if self.title else []
        last = len(self.steps) - 1
        lines += [
            s if final and i == last else f"{'✔' if i < last else '…'} {s}"
            for i, s in enumerate(self.steps)
        ]
        return "\n".join(lines)

    async def __call__(self, step: str, detail: str = "") -> None:
        self.steps.append(f"{step}: {detail}" if detail else step)
        await self._show()

    async def finish(self, text: str) -> None:
        """The last word (ready / failed): the steps are kept, marked done, under ``text``."""
        self.steps.append(text)
        await self._show(final=True)

    async def _show(self, final: bool = False) -> None:
        """Post or edit; a platform failure is logged, never raised: showing progress must
        not abort the operation it reports on."""
        try:
            await self._post_or_edit(self.render(final))
        except Exception as exc:
            log.warning("could not show progress %r: %s", self.title, type(exc).__name__)

    async def _post_or_edit(self, text: str) -> None:
        if self.ref is None:
            if self.dm_to is not None:
                self.ref = await self.app.notify(self.dm_to, text)
            else:
                self.ref = await self.app.post(
                    self.platform, self.channel, text, thread=self.thread
                )
            return
        adapter = self.app.adapters.get(self.ref.platform)
        if adapter is not None:
            await adapter.update(self.ref, self.app.outbound(text))
