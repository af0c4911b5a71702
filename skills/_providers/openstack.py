"""OpenStack servers as resources, created and managed as the requester, through openstacksdk.

Every call authenticates with the requester's own application credential (``credential=``,
read from her vault entry ``openstack`` for this one call), so Nova's quotas, policies and
project boundaries apply to her exactly as on the command line; there is no shared admin token.
A connection lives for one call and is closed after it. openstacksdk is blocking: each request
runs in a worker thread, bounded by ``timeout_seconds`` (also the HTTP timeout), and a cloud
that does not answer is ``BackendUnavailable``. Keystone tokens that expire mid-call are
renewed once by keystoneauth (a 401 triggers one re-authentication with the same credential).

The requester's SSH public keys (``ResourceSpec.extra["ssh_keys"]``) go to Nova as cloud-init
user-data (``cloud_init.default_user_keys``: a top-level ``ssh_authorized_keys``, which cloud-init
adds to the image's default user); ``details["ssh_key"]`` says whether they went in, and
``details["login_user"]`` is the image's login user from ``images.<name>.login_user`` (else the
caller's ``extra["login_user"]``). Nova key pairs are not used: they are per user in Nova, and
the bot would have to create and delete one per VM in the requester's name.

Servers we create carry metadata ``qm-owner`` (the owner's user key) and ``qm-expires`` (ISO
8601, UTC); ``list`` returns only servers with ``qm-owner``. CPU usage comes from Nova's server
diagnostics (cumulative CPU time and uptime): the first reading averages since boot, later ones
the span since the previous reading of the same server. Many clouds keep diagnostics for
administrators (policy ``os_compute_api:os-server-diagnostics``); there ``usage`` says so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from bot.providers import (
    BackendUnavailable,
    Credential,
    CredentialRequired,
    InvalidSpec,
    Progress,
    ProviderError,
    ProvisionedResource,
    QuotaExceeded,
    ResourceNotFound,
    ResourceSpec,
    ResourceState,
    ResourceStatus,
    Usage,
)
from skills._providers.cloud_init import LOGIN_USER, default_user_keys
from skills._providers.openstack_credential import REPLACE_HINT, parse_credential
from skills._providers.ssh_keys import BadKey, parse_public_key

# openstacksdk is imported where a call needs it, not here: importing it takes 0.3-0.4 s, which a
# bot with the provider configured would otherwise pay at every start and skill reload although
# no one has asked for a VM yet. The first import happens in a call's worker thread (``_connect``).
if TYPE_CHECKING:
    import openstack.exceptions as sdk_errors
    from openstack.connection import Connection

log = logging.getLogger(__name__)
T = TypeVar("T")

# openstacksdk warns on every connection that InfluxDB support is deprecated, although none is
# configured (a filter, not catch_warnings: that is not thread-safe and connections are made in
# worker threads). Its other deprecation warnings are about its own internals.
warnings.filterwarnings("ignore", message="Support for InfluxDB", module="openstack")

TRANSIENT_RETRIES = 2  # failed reads in a row tolerated while waiting for a server
OWNER_KEY = "qm-owner"
EXPIRES_KEY = "qm-expires"
INTERFACES = ("public", "internal", "admin")
USER_DATA_LIMIT = 65_535  # Nova's limit on user_data, counted in base64 characters
SETTINGS = (
    "auth_url",
    "region",
    "interface",
    "network",
    "default_image",
    "images",
    "timeout_seconds",
    "build_timeout_seconds",
    "poll_seconds",
    "verify",
)
STATES = {
    "ACTIVE": ResourceState.RUNNING,
    "BUILD": ResourceState.CREATING,
    "REBUILD": ResourceState.CREATING,
    "REBOOT": ResourceState.RUNNING,
    "HARD_REBOOT": ResourceState.RUNNING,
    "RESIZE": ResourceState.RUNNING,
    "VERIFY_RESIZE": ResourceState.RUNNING,
    "MIGRATING": ResourceState.RUNNING,
    "PASSWORD": ResourceState.RUNNING,
    "SHUTOFF": ResourceState.STOPPED,
    "SUSPENDED": ResourceState.STOPPED,
    "PAUSED": ResourceState.STOPPED,
    "SHELVED": ResourceState.STOPPED,
    "SHELVED_OFFLOADED": ResourceState.STOPPED,
    "RESCUE": ResourceState.STOPPED,
    "ERROR": ResourceState.ERROR,
    "DELETED": ResourceState.GONE,
    "SOFT_DELETED": ResourceState.GONE,
}


class UsageUnavailable(ProviderError):
    """The cloud does not let this user read CPU counters."""


# -- settings ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class OpenStackSettings:
    auth_url: str
    region: str | None = None
    interface: str = "public"
    network: str | None = None
    default_image: str | None = None
    login_users: Mapping[str, str] = field(default_factory=dict)  # image name or id -> user
    timeout_seconds: float = 30.0
    build_timeout_seconds: float = 900.0
    poll_seconds: float = 5.0
    verify: bool | str = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OpenStackSettings:
        """``ValueError`` naming the key for anything missing, unknown or malformed."""
        unknown = sorted(set(config) - set(SETTINGS))
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown setting (known: {', '.join(SETTINGS)})")
        auth_url = config.get("auth_url")
        if not isinstance(auth_url, str) or not auth_url.strip():
            raise ValueError("auth_url: required (Keystone's v3 URL, e.g. https://cloud:5000/v3)")
        parts = urlsplit(auth_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"auth_url: not an http(s) URL: {auth_url.strip()[:200]!r}")
        interface = config.get("interface", "public")
        if interface not in INTERFACES:
            raise ValueError(f"interface: one of {', '.join(INTERFACES)}, not {interface!r}")
        verify = config.get("verify", True)
        if not isinstance(verify, bool | str) or verify == "":
            raise ValueError("verify: true, false, or the path of a CA bundle")
        return cls(
            auth_url=auth_url.strip(),
            region=_optional_text(config, "region"),
            interface=interface,
            network=_optional_text(config, "network"),
            default_image=_optional_text(config, "default_image"),
            login_users=_login_users(config.get("images")),
            timeout_seconds=_seconds(config, "timeout_seconds", 30.0),
            build_timeout_seconds=_seconds(config, "build_timeout_seconds", 900.0),
            poll_seconds=_seconds(config, "poll_seconds", 5.0),
            verify=verify,
        )


def _optional_text(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: must be a non-empty name")
    return value.strip()


def _login_users(value: Any) -> dict[str, str]:
    """``images: {<name or id>: {login_user: debian}}``: who logs in to servers of each image."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("images: must map image names (or ids) to {login_user: <user>}")
    users = {}
    for name, entry in value.items():
        where = f"images.{name}"
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"images: {name!r} is not an image name or id")
        if not isinstance(entry, Mapping) or set(entry) != {"login_user"}:
            raise ValueError(f"{where}: must be {{login_user: <user>}}")
        user = entry["login_user"]
        if not isinstance(user, str) or not LOGIN_USER.fullmatch(user):
            raise ValueError(
                f"{where}.login_user: a Unix user name (lower-case letters, digits, _ and -)"
            )
        users[name.strip()] = user
    return users


def _seconds(config: Mapping[str, Any], key: str, default: float) -> float:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 86400:
        raise ValueError(f"{key}: a number of seconds between 0 and 86400, not {value!r}")
    return float(value)


# -- one authenticated session -------------------------------------------------------------------
class _Cloud:
    """One requester's connection for one provider call; every request goes through ``run``."""

    def __init__(self, settings: OpenStackSettings, credential: Credential | None) -> None:
        self._credential = parse_credential(credential)  # fails early, before any thread
        self.settings = settings
        self.host = urlsplit(settings.auth_url).hostname or settings.auth_url
        self.conn: Connection | None = None

    def _connect(self) -> Connection:
        """Built in the worker thread of the first request: openstacksdk's set-up reads
        vendor files and builds sessions, which is no work for the event loop."""
        import openstack.config
        import openstack.connection

        settings, app_cred = self.settings, self._credential
        region = openstack.config.get_cloud_region(
            load_yaml_config=False,  # the bot's host clouds.yaml / OS_* never leak in
            load_envvars=False,
            auth_type="v3applicationcredential",
            auth={
                "auth_url": settings.auth_url,
                "application_credential_id": app_cred.id,
                "application_credential_secret": app_cred.secret,
            },
            region_name=settings.region or "",
            interface=settings.interface,
            verify=settings.verify,
            api_timeout=settings.timeout_seconds,
        )
        return openstack.connection.Connection(config=region, app_name="quartermaster")

    async def run(self, what: str, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` in a worker thread within the timeout; failures become readable
        errors. Even ``conn.compute`` must be reached inside ``fn``: the SDK discovers the
        service's versions over the network on first use."""

        def call() -> T:
            if self.conn is None:
                self.conn = self._connect()
            return fn(self.conn)

        try:
            return await asyncio.wait_for(asyncio.to_thread(call), self.settings.timeout_seconds)
        except TimeoutError:
            raise BackendUnavailable(
                f"OpenStack at {self.host} did not answer within "
                f"{self.settings.timeout_seconds:g} s ({what}); try again later."
            ) from None
        except Exception as exc:
            raise self.explain(what, exc) from None

    def explain(self, what: str, exc: Exception) -> ProviderError:
        """A user-readable error from an SDK or keystoneauth failure; never the request body."""
        log.info("openstack %s failed: %s", what, type(exc).__name__)
        if isinstance(exc, ProviderError):
            return exc
        # already imported by the failed call's ``_connect``: a look-up, not an import
        import openstack.exceptions as sdk_errors
        from keystoneauth1 import exceptions as ks_errors

        if isinstance(exc, ks_errors.Unauthorized | ks_errors.Forbidden) or (
            isinstance(exc, sdk_errors.HttpException) and exc.status_code == 401
        ):
            return CredentialRequired(
                f"OpenStack at {self.host} did not accept your application credential (it may "
                f"be expired, revoked or mistyped): create a new one, then {REPLACE_HINT}."
            )
        if isinstance(
            exc,
            ks_errors.EndpointNotFound
            | sdk_errors.EndpointNotFound
            | sdk_errors.ServiceDisabledException
            | sdk_errors.ServiceDiscoveryException,
        ):
            where = f"region {self.settings.region or 'any'}, {self.settings.interface} interface"
            return ProviderError(
                f"OpenStack at {self.host} offers no service for {what} ({where}); check "
                "providers.openstack region and interface, or ask the cloud's admins."
            )
        if isinstance(exc, ks_errors.ConnectionError | ks_errors.DiscoveryFailure):
            return BackendUnavailable(
                f"OpenStack at {self.host} is not reachable ({what}); try again later."
            )
        if isinstance(exc, sdk_errors.HttpException):
            status = exc.status_code or 0
            message = _server_message(exc)
            if status in (403, 413) and "quota" in message.lower():
                return QuotaExceeded(
                    f"OpenStack refused: {message}. Release a VM you no longer need or ask "
                    "your project's admins for more quota."
                )
            if status == 404:
                return ResourceNotFound(
                    f"OpenStack has no such server in your project (while {what})."
                )
            if status >= 500:
                return BackendUnavailable(
                    f"OpenStack at {self.host} failed ({status}) while {what}; try again later."
                )
            return ProviderError(f"OpenStack refused {what}: {message or status}.")
        if isinstance(exc, ks_errors.HttpError) and (exc.http_status or 0) >= 500:
            return BackendUnavailable(
                f"OpenStack at {self.host} failed ({exc.http_status}) while {what} "
                "(signing in); try again later."
            )
        if isinstance(exc, ks_errors.ClientException | sdk_errors.SDKException):
            return ProviderError(f"OpenStack failed while {what} ({type(exc).__name__}).")
        log.exception("unexpected failure in openstack %s", what)
        return ProviderError(f"Something went wrong talking to OpenStack while {what}.")

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


def _server_message(exc: sdk_errors.HttpException) -> str:
    """The cloud's own explanation (``"Quota exceeded for cores: …"``), bounded."""
    details = str(exc.details or "").strip()
    return details[:300]


def _owned(text: str, limit: int = 64) -> str:
    """Echo user-given names bounded."""
    return text if len(text) <= limit else text[:limit] + "…"


# -- the provider --------------------------------------------------------------------------------
class OpenStackProvider:
    """Servers in the requester's OpenStack project (entry point ``openstack``)."""

    name = "openstack"
    credential_name = "openstack"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.settings = OpenStackSettings.from_config(config)
        # server id -> (uptime s, cpu time ns): the previous diagnostics reading, for deltas
        self._samples: dict[str, tuple[float, float]] = {}

    @contextlib.contextmanager
    def _cloud(self, credential: Credential | None) -> Iterator[_Cloud]:
        cloud = _Cloud(self.settings, credential)
        try:
            yield cloud
        finally:
            cloud.close()

    # -- create ----------------------------------------------------------------------------------
    async def create(
        self, spec: ResourceSpec, progress: Progress, *, credential: Credential | None = None
    ) -> ProvisionedResource:
        keys = _keys(spec)
        user_data = _user_data(keys)  # both checked before anything is asked of the cloud
        with self._cloud(credential) as cloud:
            await progress("creating", spec.name)
            image = await self._image(cloud, spec.image or self.settings.default_image)
            flavor = await self._flavor(cloud, spec)
            attrs: dict[str, Any] = {
                "name": spec.name,
                "image_id": image.id,
                "flavor_id": flavor.id,
                "metadata": _metadata(spec.owner, spec.expires_at),
                "networks": "auto",
            }
            if self.settings.network:
                wanted = self.settings.network
                net = await cloud.run(
                    "finding the network", lambda c: _found(c.network.find_network, wanted)
                )
                if net is None:
                    raise InvalidSpec(
                        f"OpenStack has no network {self.settings.network!r} for your project "
                        "(providers.openstack.network); ask the bot's admins."
                    )
                attrs["networks"] = [{"uuid": net.id}]
            if key_name := spec.extra.get("key_name"):
                attrs["key_name"] = str(key_name)
            if user_data is not None:
                attrs["user_data"] = user_data  # base64 text: the SDK passes it on as is
            server = await cloud.run(
                "creating the server", lambda c: c.compute.create_server(**attrs)
            )
            log.info("openstack: server %s (%s) requested for %s", server.id, spec.name, spec.owner)
            server = await self._wait_active(cloud, server.id, spec.name, progress)
            status = _status(server)
            return ProvisionedResource(
                provider=self.name,
                external_id=server.id,
                name=server.name or spec.name,
                status=status,
                expires_at=spec.expires_at,
                details={
                    "image": image.name,
                    "flavor": flavor.name,
                    "cpus": flavor.vcpus,
                    "memory_mb": flavor.ram,
                    "disk_gb": flavor.disk,
                    "owner": spec.owner,
                    "login_user": self._login_user(image, spec),
                    "ssh_key": user_data is not None,  # the owner's keys are in its user-data
                    "ssh_keys": len(keys),
                },
            )

    def _login_user(self, image: Any, spec: ResourceSpec) -> str | None:
        """The image's login user from ``images``, else the one the caller asked for."""
        users = self.settings.login_users
        for key in (image.name, image.id):
            if key in users:
                return users[key]
        wanted = spec.extra.get("login_user")
        return wanted if isinstance(wanted, str) and LOGIN_USER.fullmatch(wanted) else None

    async def _image(self, cloud: _Cloud, wanted: str | None) -> Any:
        """By id or name among the active images the project can see (one listing, which
        also names the choices when ``wanted`` is not there)."""
        images = await cloud.run("listing images", lambda c: list(c.image.images()))
        active = [i for i in images if i.status == "active"]
        for image in active:
            if wanted in (image.id, image.name):
                return image
        names = _enumerate(sorted({i.name for i in active if i.name}))
        if not wanted:
            raise InvalidSpec(f"Which image? This cloud offers {names}.")
        raise InvalidSpec(f"OpenStack has no image {_owned(wanted)!r}; it offers {names}.")

    async def _flavor(self, cloud: _Cloud, spec: ResourceSpec) -> Any:
        flavors = await cloud.run("listing flavors", lambda c: list(c.compute.flavors()))
        if spec.flavor:
            for f in flavors:
                if spec.flavor in (f.name, f.id):
                    return f
            names = _enumerate(sorted(f.name for f in flavors))
            wanted = _owned(spec.flavor)
            raise InvalidSpec(f"OpenStack has no flavor {wanted!r}; it offers {names}.")
        if spec.cpus is None and spec.memory_mb is None:
            names = _enumerate(sorted(f.name for f in flavors))
            raise InvalidSpec(f"Which size? Name a flavor ({names}) or CPUs and memory.")
        fitting = [
            f
            for f in flavors
            if f.vcpus >= (spec.cpus or 0)
            and f.ram >= (spec.memory_mb or 0)
            and f.disk >= (spec.disk_gb or 0)
            and not getattr(f, "is_disabled", False)
        ]
        if not fitting:
            biggest = max(flavors, key=lambda f: (f.vcpus, f.ram), default=None)
            largest = (
                f"; the largest is {biggest.name} ({biggest.vcpus} CPUs, {_gb(biggest.ram)})"
                if biggest is not None
                else ""
            )
            raise InvalidSpec(f"No flavor has {_wants(spec)}{largest}.")
        return min(fitting, key=lambda f: (f.vcpus, f.ram, f.disk, f.name))

    async def _wait_active(
        self, cloud: _Cloud, server_id: str, name: str, progress: Progress
    ) -> Any:
        deadline = time.monotonic() + self.settings.build_timeout_seconds
        said_building = said_address = False
        while True:
            server = await self._poll(cloud, server_id)
            addresses = _addresses(server)
            if server.status == "BUILD" and not said_building:
                said_building = True
                await progress("building", name)
            if addresses and not said_address:
                said_address = True
                await progress("address assigned", ", ".join(addresses))
            if server.status == "ACTIVE":
                await progress("ready", ", ".join(addresses) or name)
                return server
            if server.status == "ERROR":
                await self._discard(cloud, server_id)
                fault = _fault(server).rstrip(". ") or "no reason given"
                raise ProviderError(
                    f"OpenStack could not build {name}: {fault}. The failed server was removed."
                )
            if time.monotonic() >= deadline:
                raise ProviderError(
                    f"{name} is still not ready ({str(server.status).lower()}) after "
                    f"{self.settings.build_timeout_seconds:g} s; it is left as OpenStack "
                    f"server {server_id} for you or the admins to check."
                )
            await asyncio.sleep(self.settings.poll_seconds)

    async def _poll(self, cloud: _Cloud, server_id: str) -> Any:
        """One read while waiting for a server: a passing hiccup (a 5xx, a slow answer) is
        retried after the usual pause, up to ``TRANSIENT_RETRIES`` times in a row, so a
        long build is not abandoned for one bad answer."""
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                return await cloud.run(
                    "checking the server", lambda c: c.compute.get_server(server_id)
                )
            except BackendUnavailable:
                if attempt == TRANSIENT_RETRIES:
                    raise
                log.info("openstack: server %s unreadable for now; trying again", server_id)
                await asyncio.sleep(self.settings.poll_seconds)
        raise AssertionError("unreachable")

    async def _discard(self, cloud: _Cloud, server_id: str) -> None:
        """Remove a server that failed to build, so it holds no quota; best effort."""
        try:
            await cloud.run(
                "removing the failed server", lambda c: c.compute.delete_server(server_id)
            )
        except ProviderError as exc:
            log.warning("openstack: failed server %s not removed: %s", server_id, exc)

    # -- status, usage, extend -------------------------------------------------------------------
    async def status(
        self, external_id: str, *, credential: Credential | None = None
    ) -> ResourceStatus:
        with self._cloud(credential) as cloud:
            try:
                server = await cloud.run(
                    "reading the server", lambda c: c.compute.get_server(external_id)
                )
            except ResourceNotFound:
                raise _missing(external_id) from None
            return _status(server)

    async def usage(
        self, external_id: str, since: datetime, *, credential: Credential | None = None
    ) -> Usage:
        with self._cloud(credential) as cloud:

            def read(conn: Connection) -> Any:
                import openstack.exceptions as sdk_errors

                try:
                    return conn.compute.get_server_diagnostics(external_id)
                except sdk_errors.ForbiddenException:
                    return None
                except sdk_errors.ConflictException:
                    return False

            try:
                diag = await cloud.run("reading the server's diagnostics", read)
            except ResourceNotFound:
                raise _missing(external_id) from None
        if diag is None:
            raise UsageUnavailable(
                "CPU usage is not available: this cloud lets only administrators read server "
                "diagnostics (policy os_compute_api:os-server-diagnostics)."
            )
        if diag is False:
            raise UsageUnavailable("CPU usage is not available while the server is not running.")
        uptime = float(diag.uptime or 0)
        cpu_ns = float(sum(float(c.get("time") or 0) for c in diag.cpu_details or ()))
        cpus = int(diag.num_cpus or len(diag.cpu_details or ()) or 1)
        if not diag.cpu_details:
            raise UsageUnavailable("CPU usage is not available: the hypervisor reports none.")
        previous = self._samples.get(external_id)
        self._samples[external_id] = (uptime, cpu_ns)
        method = "since previous reading"
        if previous is not None and previous[0] < uptime and previous[1] <= cpu_ns:
            span, busy = uptime - previous[0], cpu_ns - previous[1]
        else:
            span, busy, method = uptime, cpu_ns, "since boot"
        percent = 0.0 if span <= 0 else 100.0 * busy / 1e9 / (span * cpus)
        until = datetime.now(UTC)
        return Usage(
            cpu_percent=max(0.0, min(100.0, percent)),
            since=until - timedelta(seconds=span),
            until=until,
            details={"method": method, "window_seconds": span, "cpus": cpus},
        )

    async def extend(
        self, external_id: str, until: datetime, *, credential: Credential | None = None
    ) -> None:
        with self._cloud(credential) as cloud:
            expires = {EXPIRES_KEY: _iso(until)}
            try:
                await cloud.run(
                    "extending the server",
                    lambda c: c.compute.set_server_metadata(external_id, **expires),
                )
            except ResourceNotFound:
                raise _missing(external_id) from None

    # -- delete, list, close ---------------------------------------------------------------------
    async def delete(
        self, external_id: str, progress: Progress, *, credential: Credential | None = None
    ) -> None:
        with self._cloud(credential) as cloud:
            try:
                server = await cloud.run(
                    "reading the server", lambda c: c.compute.get_server(external_id)
                )
            except ResourceNotFound:
                raise _missing(external_id) from None
            await progress("deleting", server.name or external_id)
            await cloud.run(
                "deleting the server",
                lambda c: c.compute.delete_server(external_id, ignore_missing=True),
            )
            deadline = time.monotonic() + self.settings.build_timeout_seconds
            while True:
                try:
                    server = await self._poll(cloud, external_id)
                except ResourceNotFound:
                    break
                if server.status == "DELETED":
                    break
                if time.monotonic() >= deadline:
                    raise ProviderError(
                        f"OpenStack server {external_id} is still being deleted after "
                        f"{self.settings.build_timeout_seconds:g} s; I'll check again later."
                    )
                await asyncio.sleep(self.settings.poll_seconds)
            self._samples.pop(external_id, None)
            log.info("openstack: server %s deleted", external_id)
            await progress("deleted", server.name or external_id)

    async def list(self, *, credential: Credential | None = None) -> list[ProvisionedResource]:
        with self._cloud(credential) as cloud:
            servers = await cloud.run(
                "listing servers", lambda c: list(c.compute.servers(details=True))
            )
        found = []
        for server in servers:
            metadata = server.metadata or {}
            if OWNER_KEY not in metadata:
                continue
            found.append(
                ProvisionedResource(
                    provider=self.name,
                    external_id=server.id,
                    name=server.name,
                    status=_status(server),
                    expires_at=_parse_iso(metadata.get(EXPIRES_KEY)),
                    details={"owner": metadata[OWNER_KEY]},
                )
            )
        return found

    async def close(self) -> None:
        """Nothing stays open between calls: each call's connection is closed after it."""
        self._samples.clear()


# -- helpers -------------------------------------------------------------------------------------
def _missing(external_id: str) -> ResourceNotFound:
    return ResourceNotFound(
        f"There is no OpenStack server {_owned(external_id)} in your project (it may have "
        "been deleted already)."
    )


def _found(find: Callable[..., Any], name_or_id: str) -> Any:
    """``find_*`` by name or id, ``None`` when absent (``ignore_missing`` is deprecated)."""
    import openstack.exceptions as sdk_errors

    try:
        return find(name_or_id, ignore_missing=False)
    except sdk_errors.NotFoundException:
        return None


def _keys(spec: ResourceSpec) -> list[str]:
    """The requester's SSH public keys from ``spec.extra["ssh_keys"]``, checked again here."""
    given = spec.extra.get("ssh_keys") or []
    if isinstance(given, str) or not isinstance(given, list | tuple):
        raise InvalidSpec("ssh_keys must be a list of SSH public keys.")
    try:
        return [parse_public_key(str(k)) for k in given]
    except BadKey as exc:
        raise InvalidSpec(f"An SSH key given for {spec.name} is not usable: {exc}") from None


def _user_data(keys: list[str]) -> str | None:
    """Nova's ``user_data`` (base64 of the ``#cloud-config``) for ``keys``; None without keys.
    ``InvalidSpec`` when it would pass Nova's limit, which Nova would refuse with a 400."""
    if not keys:
        return None
    encoded = base64.b64encode(default_user_keys(keys).encode()).decode("ascii")
    if len(encoded) > USER_DATA_LIMIT:
        raise InvalidSpec(
            f"Your {len(keys)} SSH keys are too many for an OpenStack server: their cloud-init "
            f"user-data would be {len(encoded):,} characters, and OpenStack takes at most "
            f"{USER_DATA_LIMIT:,}. Keep fewer keys, or shorter ones (an ssh-ed25519 key is "
            "about 100 characters)."
        )
    return encoded


def _metadata(owner: str, expires_at: datetime | None) -> dict[str, str]:
    metadata = {OWNER_KEY: owner[:255]}
    if expires_at is not None:
        metadata[EXPIRES_KEY] = _iso(expires_at)
    return metadata


def _iso(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _addresses(server: Any) -> tuple[str, ...]:
    found: list[str] = []
    for entries in (server.addresses or {}).values():
        for entry in entries or ():
            if isinstance(entry, Mapping) and entry.get("addr"):
                found.append(str(entry["addr"]))
    return tuple(found)


def _fault(server: Any) -> str:
    fault = server.fault if isinstance(server.fault, Mapping) else {}
    return str(fault.get("message") or "")[:300]


def _status(server: Any) -> ResourceStatus:
    raw = str(server.status or "").upper()
    state = STATES.get(raw, ResourceState.ERROR if raw.startswith("ERR") else ResourceState.RUNNING)
    detail = _fault(server) if state is ResourceState.ERROR else raw.lower()
    return ResourceStatus(state, detail, _addresses(server))


def _gb(mb: int) -> str:
    return f"{mb / 1024:g} GB"


def _wants(spec: ResourceSpec) -> str:
    parts = []
    if spec.cpus:
        parts.append(f"{spec.cpus} CPUs")
    if spec.memory_mb:
        parts.append(_gb(spec.memory_mb))
    if spec.disk_gb:
        parts.append(f"{spec.disk_gb} GB of disk")
    return " and ".join(parts) or "that size"


def _enumerate(names: list[str], limit: int = 12) -> str:
    if not names:
        return "nothing"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
