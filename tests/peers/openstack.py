"""A local OpenStack protocol peer: Keystone v3, Nova, Glance and Neutron on 127.0.0.1.

Enough of each API for the real openstacksdk to authenticate with an application credential and
create, read, tag, measure and delete servers: ``POST /v3/auth/tokens`` (application_credential
by id or by name+user, ``X-Subject-Token``, a catalog whose compute/image/network/identity
endpoints point back here), version documents for discovery, Nova ``/v2.1`` (flavors, servers
create/list/detail/get/delete, metadata, diagnostics, limits, the ``OpenStack-API-Version``
microversion headers), Glance ``/v2/images`` and Neutron ``/v2.0`` (networks, ports, floating
IPs, read-only). Each application credential belongs to one user in one project; servers are
scoped to their project as Nova does, so one user never sees another's.

Servers go BUILD → ACTIVE after ``build_polls`` reads (an address appears after the first) and
vanish ``delete_polls`` reads after DELETE. Failure knobs: project quotas (Nova's 403
"Quota exceeded …", or 413 ``overLimit`` with ``quota_status=413``), ``fail_builds`` (the next
servers go ERROR with that fault), ``faults`` (a status or a delay on matching requests),
``token_uses`` (a token answers 401 after N uses, so clients must re-authenticate),
``diagnostics_admin_only`` (403 as Nova's default policy). Every request is kept in ``calls``
with the user and project its token belongs to. A server's ``user_data`` is checked as Nova's
schema does (base64, at most 65,535 characters; a 400 otherwise) and kept: ``user_data(id)``
reads it back decoded (real Nova shows it only to admins, as ``OS-EXT-SRV-ATTR:user_data``).

    async with OpenStackPeer() as cloud:
        cred = cloud.add_user("alice")          # "<id>:<secret>"
        ...                                      # point openstacksdk at cloud.auth_url
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

JSON = "application/json"
NOVA_MAX = "2.96"
USER_DATA_MAX = 65_535  # Nova's schema: maxLength of the base64 text
REGION = "RegionOne"


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={"Content-Type": JSON, **(headers or {})},
    )


def nova_error(status: int, kind: str, message: str) -> web.Response:
    """Nova wraps errors as ``{"itemNotFound": {"code": 404, "message": …}}``."""
    return reply({kind: {"code": status, "message": message}}, status)


@dataclass
class AppCredential:
    id: str
    secret: str
    name: str
    user_id: str
    user_name: str
    project_id: str
    project_name: str

    def as_text(self) -> str:
        return f"{self.id}:{self.secret}"


@dataclass
class Token:
    value: str
    credential: AppCredential
    uses: int = 0


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    user: str | None = None  # user name the token belongs to
    project: str | None = None
    credential_id: str | None = None
    status: int = 0


CALL: web.RequestKey[Call] = web.RequestKey("call", Call)
CRED: web.RequestKey[AppCredential] = web.RequestKey("credential", AppCredential)


@dataclass
class Fault:
    """Answer ``count`` requests matching ``method`` and ``pattern`` (a regex searched in the
    path) with ``status`` (5xx …) after waiting ``delay`` seconds; status 0 only delays."""

    method: str
    pattern: str
    count: int = 1
    status: int = 503
    delay: float = 0.0


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    user_id: str
    image_id: str
    flavor: dict[str, Any]
    metadata: dict[str, str]
    network: dict[str, Any] | None
    key_name: str | None = None
    user_data: str | None = None  # base64, as given
    status: str = "BUILD"
    polls: int = 0
    fault: str | None = None
    deleting: bool = False
    delete_polls: int = 0
    address: str | None = None
    cpu_time_ns: int = 0  # cumulative, as diagnostics report it
    uptime: int = 0  # seconds, as diagnostics report it
    created: str = field(default_factory=now_iso)


DEFAULT_FLAVORS = [
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
]
DEFAULT_IMAGES = ["ubuntu-22.04", "ubuntu-24.04", "rocky-9"]


@dataclass
class OpenStackPeer:
    build_polls: int = 2  # reads of a BUILD server before it is ACTIVE
    delete_polls: int = 1  # reads of a deleted server before it is gone
    token_uses: int | None = None  # a token answers 401 after this many uses
    quota_status: int = 403  # 403 Forbidden (current Nova) or 413 overLimit (older)
    diagnostics_admin_only: bool = False
    quota: dict[str, int] = field(
        default_factory=lambda: {"instances": 10, "cores": 20, "ram": 51200}
    )
    credentials: dict[str, AppCredential] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)  # credential id per token issued
    flavors: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    fail_builds: list[str] = field(default_factory=list)  # faults for the next builds

    def __post_init__(self) -> None:
        for name, vcpus, ram, disk in DEFAULT_FLAVORS:
            self.add_flavor(name, vcpus, ram, disk)
        for name in DEFAULT_IMAGES:
            self.add_image(name)
        self.add_network("private")
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.url = ""
        self.port = 0
        self._next_ip = 10

    # -- lifecycle -----------------------------------------------------------------------------
    async def __aenter__(self) -> OpenStackPeer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def auth_url(self) -> str:
        return f"{self.url}/identity/v3"

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/identity", self._identity_versions)
        r.add_get("/identity/", self._identity_versions)
        r.add_get("/identity/v3", self._identity_version)
        r.add_get("/identity/v3/", self._identity_version)
        r.add_post("/identity/v3/auth/tokens", self._issue_token)
        nova = "/compute/v2.1"
        r.add_get("/compute", self._compute_versions)
        r.add_get("/compute/", self._compute_versions)
        r.add_get(nova, self._compute_version)
        r.add_get(nova + "/", self._compute_version)
        r.add_get(nova + "/flavors", self._flavors)
        r.add_get(nova + "/flavors/detail", self._flavors)
        r.add_get(nova + "/flavors/{id}", self._flavor)
        r.add_get(nova + "/flavors/{id}/os-extra_specs", self._extra_specs)
        r.add_get(nova + "/limits", self._limits)
        r.add_get(nova + "/servers", self._list_servers)
        r.add_get(nova + "/servers/detail", self._list_servers)
        r.add_post(nova + "/servers", self._create_server)
        r.add_get(nova + "/servers/{id}", self._get_server)
        r.add_delete(nova + "/servers/{id}", self._delete_server)
        r.add_get(nova + "/servers/{id}/metadata", self._get_metadata)
        r.add_post(nova + "/servers/{id}/metadata", self._merge_metadata)
        r.add_put(nova + "/servers/{id}/metadata", self._replace_metadata)
        r.add_put(nova + "/servers/{id}/metadata/{key}", self._set_metadata_item)
        r.add_delete(nova + "/servers/{id}/metadata/{key}", self._delete_metadata_item)
        r.add_get(nova + "/servers/{id}/diagnostics", self._diagnostics)
        r.add_get("/image", self._image_versions)
        r.add_get("/image/", self._image_versions)
        r.add_get("/image/v2/images", self._images)
        r.add_get("/image/v2/images/{id}", self._image)
        r.add_get("/network", self._network_versions)
        r.add_get("/network/", self._network_versions)
        r.add_get("/network/v2.0/networks", self._networks)
        r.add_get("/network/v2.0/networks/{id}", self._network)
        r.add_get("/network/v2.0/ports", self._ports)
        r.add_get("/network/v2.0/floatingips", self._floating_ips)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"
        return self.url

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- set-up for tests ----------------------------------------------------------------------
    def add_user(self, name: str, project: str | None = None) -> AppCredential:
        """A user with an application credential in ``project`` (default: her own project)."""
        project = project or f"{name}-project"
        cred = AppCredential(
            id=uuid.uuid4().hex,
            secret=secrets.token_urlsafe(24),
            name=f"{name}-qm",
            user_id=uuid.uuid5(uuid.NAMESPACE_DNS, f"user.{name}").hex,
            user_name=name,
            project_id=uuid.uuid5(uuid.NAMESPACE_DNS, f"project.{project}").hex,
            project_name=project,
        )
        self.credentials[cred.id] = cred
        return cred

    def revoke(self, cred: AppCredential) -> None:
        """The credential is deleted in Keystone; its tokens stop working too."""
        self.credentials.pop(cred.id, None)
        for value in [v for v, t in self.tokens.items() if t.credential is cred]:
            del self.tokens[value]

    def add_flavor(self, name: str, vcpus: int, ram: int, disk: int) -> dict[str, Any]:
        flavor_id = str(len(self.flavors) + 1)
        flavor = {
            "id": flavor_id,
            "name": name,
            "vcpus": vcpus,
            "ram": ram,
            "disk": disk,
            "OS-FLV-EXT-DATA:ephemeral": 0,
            "OS-FLV-DISABLED:disabled": False,
            "swap": 0,
            "rxtx_factor": 1.0,
            "os-flavor-access:is_public": True,
            "description": None,
            "extra_specs": {},
            "links": [],
        }
        self.flavors[flavor_id] = flavor
        return flavor

    def remove_flavor(self, name: str) -> None:
        for key in [k for k, f in self.flavors.items() if f["name"] == name]:
            del self.flavors[key]

    def add_image(self, name: str) -> dict[str, Any]:
        image_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"image.{name}"))
        image = {
            "id": image_id,
            "name": name,
            "status": "active",
            "visibility": "public",
            "protected": False,
            "os_hidden": False,
            "container_format": "bare",
            "disk_format": "qcow2",
            "min_disk": 0,
            "min_ram": 0,
            "size": 1 << 30,
            "checksum": None,
            "owner": None,
            "tags": [],
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "self": f"/v2/images/{image_id}",
            "file": f"/v2/images/{image_id}/file",
            "schema": "/v2/schemas/image",
        }
        self.images[image_id] = image
        return image

    def add_network(self, name: str) -> dict[str, Any]:
        net_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"network.{name}"))
        net = {
            "id": net_id,
            "name": name,
            "status": "ACTIVE",
            "admin_state_up": True,
            "shared": True,
            "subnets": [],
            "project_id": "",
            "tenant_id": "",
            "router:external": False,
            "mtu": 1450,
            "tags": [],
        }
        self.networks[net_id] = net
        return net

    def fail(self, method: str, pattern: str, status: int = 503, *, count: int = 1,
             delay: float = 0.0) -> Fault:  # fmt: skip
        fault = Fault(method, pattern, count, status, delay)
        self.faults.append(fault)
        return fault

    def user_data(self, server_id: str) -> str | None:
        """The server's user-data decoded (as cloud-init in the guest would read it)."""
        encoded = self.servers[server_id].user_data
        return None if encoded is None else base64.b64decode(encoded).decode()

    def calls_to(self, method: str, pattern: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and re.search(pattern, c.path)]

    # -- plumbing ------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return nova_error(400, "badRequest", "Malformed request body")
        call = Call(request.method, request.path, dict(request.query), body)
        self.calls.append(call)
        request[CALL] = call
        for fault in self.faults:
            if (
                fault.count > 0
                and fault.method == request.method
                and re.search(fault.pattern, request.path)
            ):
                fault.count -= 1
                if fault.delay:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), fault.delay)
                if fault.status:
                    call.status = fault.status
                    return nova_error(fault.status, "computeFault", "The server has either erred …")
                break
        if not request.path.startswith("/identity") and request.path.rstrip("/") not in (
            "/compute",
            "/compute/v2.1",
            "/image",
            "/network",
        ):
            token = self._token(request)
            if token is None:
                call.status = 401
                return reply(
                    {
                        "error": {
                            "code": 401,
                            "title": "Unauthorized",
                            "message": "The request you have made requires authentication.",
                        }
                    },
                    401,
                    {"WWW-Authenticate": f'Keystone uri="{self.auth_url}"'},
                )
            cred = token.credential
            request[CRED] = cred
            call.user, call.project, call.credential_id = (
                cred.user_name,
                cred.project_id,
                cred.id,
            )
        response: web.StreamResponse = await handler(request)
        call.status = response.status
        if request.path.startswith("/compute/v2.1"):
            asked = request.headers.get("OpenStack-API-Version", "")
            version = asked.split()[-1] if asked.startswith("compute ") else "2.1"
            if version == "latest":
                version = NOVA_MAX
            response.headers["OpenStack-API-Version"] = f"compute {version}"
            response.headers["X-OpenStack-Nova-API-Version"] = version
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
        return response

    def _token(self, request: web.Request) -> Token | None:
        token = self.tokens.get(request.headers.get("X-Auth-Token", ""))
        if token is None:
            return None
        token.uses += 1
        if self.token_uses is not None and token.uses > self.token_uses:
            return None  # expired
        return token

    # -- Keystone ------------------------------------------------------------------------------
    def _version_doc(self, vid: str, href: str, **extra: str) -> dict[str, Any]:
        return {
            "id": vid,
            "status": "CURRENT",
            "updated": "2024-01-01T00:00:00Z",
            "links": [{"rel": "self", "href": href}],
            "media-types": [{"base": JSON, "type": "application/vnd.openstack+json"}],
            **extra,
        }

    async def _identity_versions(self, request: web.Request) -> web.Response:
        doc = self._version_doc("v3.14", f"{self.url}/identity/v3/")
        return reply({"versions": {"values": [doc]}}, 300)

    async def _identity_version(self, request: web.Request) -> web.Response:
        return reply({"version": self._version_doc("v3.14", f"{self.url}/identity/v3/")})

    async def _issue_token(self, request: web.Request) -> web.Response:
        body = request[CALL].body or {}
        unauthorized = reply(
            {
                "error": {
                    "code": 401,
                    "title": "Unauthorized",
                    "message": "The request you have made requires authentication.",
                }
            },
            401,
        )
        try:
            identity = body["auth"]["identity"]
            given = identity["application_credential"]
        except (KeyError, TypeError):
            return unauthorized
        if "application_credential" not in identity.get("methods", []):
            return unauthorized
        cred = self.credentials.get(given.get("id", ""))
        if cred is None and "name" in given:
            user = given.get("user") or {}
            cred = next(
                (
                    c
                    for c in self.credentials.values()
                    if c.name == given["name"]
                    and user.get("name", user.get("id")) in (c.user_name, c.user_id)
                ),
                None,
            )
        if cred is None or not secrets.compare_digest(
            str(given.get("secret", "")).encode(), cred.secret.encode()
        ):
            return unauthorized
        value = "gAAAA" + secrets.token_urlsafe(32)
        self.tokens[value] = Token(value, cred)
        self.issued.append(cred.id)
        domain = {"id": "default", "name": "Default"}
        token = {
            "methods": ["application_credential"],
            "user": {"id": cred.user_id, "name": cred.user_name, "domain": domain},
            "project": {"id": cred.project_id, "name": cred.project_name, "domain": domain},
            "roles": [{"id": "r-member", "name": "member"}, {"id": "r-reader", "name": "reader"}],
            "application_credential": {"id": cred.id, "name": cred.name, "restricted": True},
            "issued_at": now_iso(),
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).strftime(
                "%Y-%m-%dT%H:%M:%S.000000Z"
            ),
            "audit_ids": [secrets.token_urlsafe(8)],
            "catalog": self._catalog(),
        }
        return reply({"token": token}, 201, {"X-Subject-Token": value})

    def _catalog(self) -> list[dict[str, Any]]:
        def service(kind: str, name: str, url: str) -> dict[str, Any]:
            return {
                "id": uuid.uuid5(uuid.NAMESPACE_DNS, kind).hex,
                "type": kind,
                "name": name,
                "endpoints": [
                    {
                        "id": uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}.{iface}").hex,
                        "interface": iface,
                        "region": REGION,
                        "region_id": REGION,
                        "url": url,
                    }
                    for iface in ("public", "internal")
                ],
            }

        return [
            service("identity", "keystone", f"{self.url}/identity"),
            service("compute", "nova", f"{self.url}/compute/v2.1"),
            service("image", "glance", f"{self.url}/image"),
            service("network", "neutron", f"{self.url}/network"),
        ]

    # -- Nova ----------------------------------------------------------------------------------
    def _nova_doc(self) -> dict[str, Any]:
        return self._version_doc(
            "v2.1", f"{self.url}/compute/v2.1/", version=NOVA_MAX, min_version="2.1"
        )

    async def _compute_versions(self, request: web.Request) -> web.Response:
        return reply({"versions": [self._nova_doc()]})

    async def _compute_version(self, request: web.Request) -> web.Response:
        return reply({"version": self._nova_doc()})

    async def _flavors(self, request: web.Request) -> web.Response:
        return reply({"flavors": list(self.flavors.values())})

    def _find_flavor(self, ref: str) -> dict[str, Any] | None:
        ref = ref.rstrip("/").rsplit("/", 1)[-1]
        return self.flavors.get(ref)

    async def _flavor(self, request: web.Request) -> web.Response:
        flavor = self._find_flavor(request.match_info["id"])
        if flavor is None:
            missing = request.match_info["id"]
            return nova_error(404, "itemNotFound", f"Flavor {missing} could not be found.")
        return reply({"flavor": flavor})

    async def _extra_specs(self, request: web.Request) -> web.Response:
        return reply({"extra_specs": {}})

    def _usage(self, project_id: str) -> dict[str, int]:
        mine = [s for s in self.servers.values() if s.project_id == project_id]
        return {
            "instances": len(mine),
            "cores": sum(s.flavor["vcpus"] for s in mine),
            "ram": sum(s.flavor["ram"] for s in mine),
        }

    async def _limits(self, request: web.Request) -> web.Response:
        used = self._usage(_tokens_cred_project(request))
        absolute = {
            "maxTotalInstances": self.quota["instances"],
            "maxTotalCores": self.quota["cores"],
            "maxTotalRAMSize": self.quota["ram"],
            "maxServerMeta": 128,
            "maxTotalKeypairs": 100,
            "maxServerGroups": 10,
            "maxServerGroupMembers": 10,
            "totalInstancesUsed": used["instances"],
            "totalCoresUsed": used["cores"],
            "totalRAMUsed": used["ram"],
            "totalServerGroupsUsed": 0,
        }
        return reply({"limits": {"absolute": absolute, "rate": []}})

    def _server_view(self, s: Server, detail: bool = True) -> dict[str, Any]:
        links = [{"rel": "self", "href": f"{self.url}/compute/v2.1/servers/{s.id}"}]
        if not detail:
            return {"id": s.id, "name": s.name, "links": links}
        addresses: dict[str, list[dict[str, Any]]] = {}
        if s.address and s.network is not None:
            addresses[s.network["name"]] = [
                {
                    "addr": s.address,
                    "version": 4,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:01",
                }
            ]
        flavor = {k: s.flavor[k] for k in ("vcpus", "ram", "disk", "swap")} | {
            "ephemeral": 0,
            "original_name": s.flavor["name"],
            "extra_specs": {},
        }
        view: dict[str, Any] = {
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "tenant_id": s.project_id,
            "user_id": s.user_id,
            "metadata": dict(s.metadata),
            "hostId": "0" * 56,
            "image": {"id": s.image_id, "links": []},
            "flavor": flavor,
            "created": s.created,
            "updated": now_iso(),
            "addresses": addresses,
            "accessIPv4": "",
            "accessIPv6": "",
            "links": links,
            "key_name": s.key_name,
            "progress": 100 if s.status == "ACTIVE" else 0,
            "OS-EXT-STS:task_state": "deleting" if s.deleting else None,
            "OS-EXT-STS:vm_state": {"BUILD": "building", "ACTIVE": "active"}.get(s.status, "error"),
            "OS-EXT-STS:power_state": 1 if s.status == "ACTIVE" else 0,
            "OS-EXT-AZ:availability_zone": "nova",
            "OS-DCF:diskConfig": "MANUAL",
            "os-extended-volumes:volumes_attached": [],
            "security_groups": [{"name": "default"}],
            "config_drive": "",
            "locked": False,
            "locked_reason": None,
            "description": None,
            "tags": [],
            "trusted_image_certificates": None,
            "host_status": "UP",
            "pinned_availability_zone": None,
        }
        if s.fault is not None:
            view["fault"] = {"code": 500, "message": s.fault, "created": s.created}
        return view

    def _visible(self, request: web.Request) -> list[Server]:
        project = _tokens_cred_project(request)
        return [s for s in self.servers.values() if s.project_id == project]

    async def _list_servers(self, request: web.Request) -> web.Response:
        detail = request.path.endswith("/detail")
        servers = self._visible(request)
        if name := request.query.get("name"):
            servers = [s for s in servers if re.search(name, s.name)]
        return reply({"servers": [self._server_view(s, detail) for s in servers]})

    def _server(self, request: web.Request) -> Server | None:
        server = self.servers.get(request.match_info["id"])
        if server is None or server.project_id != _tokens_cred_project(request):
            return None
        return server

    def _not_found(self, request: web.Request) -> web.Response:
        return nova_error(404, "itemNotFound", "Instance could not be found.")

    async def _create_server(self, request: web.Request) -> web.Response:
        cred = _tokens_cred(request)
        body = (request[CALL].body or {}).get("server")
        if not isinstance(body, dict) or not body.get("name"):
            return nova_error(400, "badRequest", "Invalid input for field/attribute server.")
        flavor = self._find_flavor(str(body.get("flavorRef", "")))
        if flavor is None:
            missing = body.get("flavorRef")
            return nova_error(400, "badRequest", f"Flavor {missing} could not be found.")
        image_id = str(body.get("imageRef", "")).rstrip("/").rsplit("/", 1)[-1]
        if image_id not in self.images:
            return nova_error(400, "badRequest", f"Image {image_id} could not be found.")
        networks = body.get("networks", "auto")
        network: dict[str, Any] | None = None
        if isinstance(networks, list) and networks:
            network = self.networks.get(str(networks[0].get("uuid", "")))
            if network is None:
                return nova_error(400, "badRequest", "Network could not be found.")
        elif networks == "auto":
            network = next(iter(self.networks.values()), None)
        elif networks != "none":
            return nova_error(400, "badRequest", "Invalid input for field/attribute networks.")
        user_data = body.get("user_data")
        if user_data is not None and (problem := _user_data_problem(user_data)):
            return nova_error(
                400, "badRequest", f"Invalid input for field/attribute user_data. {problem}"
            )
        metadata = body.get("metadata") or {}
        if not all(isinstance(v, str) and len(v) <= 255 for v in metadata.values()):
            return nova_error(400, "badRequest", "Invalid input for field/attribute metadata.")
        used = self._usage(cred.project_id)
        wanted = {"instances": 1, "cores": flavor["vcpus"], "ram": flavor["ram"]}
        for resource in ("instances", "cores", "ram"):
            if used[resource] + wanted[resource] > self.quota[resource]:
                message = (
                    f"Quota exceeded for {resource}: Requested {wanted[resource]}, but already "
                    f"used {used[resource]} of {self.quota[resource]} {resource}"
                )
                if self.quota_status == 413:
                    return nova_error(413, "overLimit", message)
                return nova_error(403, "forbidden", message)
        server = Server(
            id=str(uuid.uuid4()),
            name=body["name"],
            project_id=cred.project_id,
            user_id=cred.user_id,
            image_id=image_id,
            flavor=flavor,
            metadata=dict(metadata),
            network=network,
            key_name=body.get("key_name"),
            user_data=user_data,
        )
        if self.fail_builds:
            server.fault = self.fail_builds.pop(0)
        self.servers[server.id] = server
        view = {
            "id": server.id,
            "links": self._server_view(server, False)["links"],
            "OS-DCF:diskConfig": "MANUAL",
            "security_groups": [{"name": "default"}],
            "adminPass": secrets.token_urlsafe(9),
        }
        return reply({"server": view}, 202)

    def _advance(self, server: Server) -> bool:
        """One read of a server moves it along; False once a deleted server is gone."""
        if server.deleting:
            server.delete_polls += 1
            if server.delete_polls > self.delete_polls:
                self.servers.pop(server.id, None)
                return False
            return True
        if server.status == "BUILD":
            server.polls += 1
            if server.fault is not None and server.polls >= self.build_polls:
                server.status = "ERROR"
            elif server.fault is None and server.network is not None and not server.address:
                server.address = f"10.0.0.{self._next_ip}"
                self._next_ip += 1
            if server.fault is None and server.polls >= self.build_polls:
                server.status = "ACTIVE"
        return True

    async def _get_server(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None or not self._advance(server):
            return self._not_found(request)
        return reply({"server": self._server_view(server)})

    async def _delete_server(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None:
            return self._not_found(request)
        server.deleting = True
        if self.delete_polls <= 0:
            self.servers.pop(server.id, None)
        return web.Response(status=204)

    async def _get_metadata(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None:
            return self._not_found(request)
        return reply({"metadata": server.metadata})

    async def _merge_metadata(self, request: web.Request) -> web.Response:
        return await self._write_metadata(request, replace=False)

    async def _replace_metadata(self, request: web.Request) -> web.Response:
        return await self._write_metadata(request, replace=True)

    async def _write_metadata(self, request: web.Request, *, replace: bool) -> web.Response:
        server = self._server(request)
        if server is None:
            return self._not_found(request)
        given = (request[CALL].body or {}).get("metadata")
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            return nova_error(400, "badRequest", "Malformed request body")
        if replace:
            server.metadata = dict(given)
        else:
            server.metadata.update(given)
        return reply({"metadata": server.metadata})

    async def _set_metadata_item(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None:
            return self._not_found(request)
        meta = (request[CALL].body or {}).get("meta") or {}
        server.metadata.update({k: str(v) for k, v in meta.items()})
        return reply({"meta": meta})

    async def _delete_metadata_item(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None or request.match_info["key"] not in server.metadata:
            return self._not_found(request)
        del server.metadata[request.match_info["key"]]
        return web.Response(status=204)

    async def _diagnostics(self, request: web.Request) -> web.Response:
        server = self._server(request)
        if server is None:
            return self._not_found(request)
        if self.diagnostics_admin_only:
            return nova_error(
                403,
                "forbidden",
                "Policy doesn't allow os_compute_api:os-server-diagnostics to be performed.",
            )
        if server.status != "ACTIVE":
            message = "Cannot 'get_diagnostics' instance while it is in vm_state building"
            return nova_error(409, "conflictingRequest", message)
        vcpus = server.flavor["vcpus"]
        return reply(
            {
                "state": "running",
                "driver": "libvirt",
                "hypervisor": "kvm",
                "hypervisor_os": "ubuntu",
                "uptime": server.uptime,
                "config_drive": False,
                "num_cpus": vcpus,
                "num_disks": 1,
                "num_nics": 1,
                "cpu_details": [
                    {"id": i, "time": server.cpu_time_ns // vcpus, "utilisation": None}
                    for i in range(vcpus)
                ],
                "memory_details": {"maximum": server.flavor["ram"], "used": 0},
                "disk_details": [],
                "nic_details": [],
            }
        )

    # -- Glance --------------------------------------------------------------------------------
    async def _image_versions(self, request: web.Request) -> web.Response:
        docs = [self._version_doc("v2.16", f"{self.url}/image/v2/")]
        return reply({"versions": docs}, 300)

    async def _images(self, request: web.Request) -> web.Response:
        images = list(self.images.values())
        for key in ("name", "id", "status", "visibility"):
            if key in request.query:
                images = [i for i in images if i.get(key) == request.query[key]]
        return reply({"images": images, "first": "/v2/images", "schema": "/v2/schemas/images"})

    async def _image(self, request: web.Request) -> web.Response:
        image = self.images.get(request.match_info["id"])
        if image is None:
            return web.Response(status=404, text="404 Not Found\n\nNo image found.")
        return reply(image)

    # -- Neutron -------------------------------------------------------------------------------
    async def _network_versions(self, request: web.Request) -> web.Response:
        docs = [self._version_doc("v2.0", f"{self.url}/network/v2.0/")]
        return reply({"versions": docs})

    async def _networks(self, request: web.Request) -> web.Response:
        nets = list(self.networks.values())
        for key in ("name", "id"):
            if key in request.query:
                nets = [n for n in nets if n[key] == request.query[key]]
        return reply({"networks": nets})

    async def _network(self, request: web.Request) -> web.Response:
        net = self.networks.get(request.match_info["id"])
        if net is None:
            message = f"Network {request.match_info['id']} could not be found."
            return reply(
                {"NeutronError": {"type": "NetworkNotFound", "message": message, "detail": ""}},
                404,
            )
        return reply({"network": net})

    async def _ports(self, request: web.Request) -> web.Response:
        project = _tokens_cred_project(request)
        ports = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"port.{s.id}")),
                "device_id": s.id,
                "network_id": s.network["id"],
                "fixed_ips": [{"ip_address": s.address}],
                "status": "ACTIVE",
                "project_id": project,
            }
            for s in self.servers.values()
            if s.project_id == project and s.address and s.network is not None
        ]
        if device := request.query.get("device_id"):
            ports = [p for p in ports if p["device_id"] == device]
        return reply({"ports": ports})

    async def _floating_ips(self, request: web.Request) -> web.Response:
        return reply({"floatingips": []})


def _user_data_problem(value: Any) -> str | None:
    """What Nova's JSON schema says of ``user_data`` (``type: string, format: base64,
    maxLength: 65535``; the format is ``base64.decodebytes``), or None when it is fine."""
    if not isinstance(value, str):
        return f"Value: {value!r}. {value!r} is not of type 'string'"
    if len(value) > USER_DATA_MAX:
        return f"Value: {value[:20]!r}…. It is too long"
    try:
        base64.decodebytes(value.encode())
    except (binascii.Error, ValueError):
        return f"Value: {value[:20]!r}. {value[:20]!r} is not a 'base64'"
    return None


def _tokens_cred(request: web.Request) -> AppCredential:
    """The credential whose token the middleware accepted for this request."""
    return request[CRED]


def _tokens_cred_project(request: web.Request) -> str:
    return request[CALL].project or ""
