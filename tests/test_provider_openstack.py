"""The OpenStack provider through the real openstacksdk, over real sockets, against the
protocol-level cloud in tests/peers/openstack.py: every operation, every failure mode the issue
names, per-user credentials and project boundaries, and secrets kept out of logs and errors."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.errors import ConfigError
from bot.providers import (
    BackendUnavailable,
    CredentialRequired,
    InvalidSpec,
    ProviderError,
    QuotaExceeded,
    ResourceNotFound,
    ResourceProvider,
    ResourceSpec,
    ResourceState,
    provider_from_config,
)
from credentials.secret import Secret
from tests.peers.openstack import OpenStackPeer, Server

Cloud = tuple[str, Callable[[str], str], OpenStackPeer]
WEEK = timedelta(days=7)


class Steps:
    """A ``Progress`` that keeps what it was told."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, step: str, detail: str = "") -> None:
        self.seen.append((step, detail))

    @property
    def names(self) -> list[str]:
        return [s for s, _ in self.seen]


def provider(url: str, **settings: Any) -> ResourceProvider:
    """Through the entry point, as the bot builds it. (Every skill load re-imports the
    ``skills`` package, this module too, so classes are compared by name.)"""
    config = {"auth_url": url, "poll_seconds": 0.01, "timeout_seconds": 5, **settings}
    built = provider_from_config("openstack", {"openstack": config})
    assert type(built).__name__ == "OpenStackProvider"
    return built


def cred(text: str) -> Secret:
    return Secret(text, "openstack")


def vm(name: str = "vm-1", owner: str = "alice", **kw: Any) -> ResourceSpec:
    kw.setdefault("image", "ubuntu-22.04")
    if "cpus" not in kw and "memory_mb" not in kw:
        kw.setdefault("flavor", "m1.small")
    return ResourceSpec(kind="vm", name=name, owner=owner, **kw)


def secret_of(credential: str) -> str:
    return credential.split(":", 1)[1]


# -- settings ------------------------------------------------------------------------------------
def test_entry_point_builds_a_resource_provider() -> None:
    built = provider_from_config("openstack", {"openstack": {"auth_url": "https://c:5000/v3"}})
    assert isinstance(built, ResourceProvider)
    assert built.name == "openstack" and built.credential_name == "openstack"


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({}, "auth_url"),
        ({"auth_url": "keystone.example.org"}, "auth_url"),
        ({"auth_url": "https://c/v3", "interface": "external"}, "interface"),
        ({"auth_url": "https://c/v3", "timeout_seconds": 0}, "timeout_seconds"),
        ({"auth_url": "https://c/v3", "timeout_seconds": "soon"}, "timeout_seconds"),
        ({"auth_url": "https://c/v3", "poll_seconds": True}, "poll_seconds"),
        ({"auth_url": "https://c/v3", "network": ""}, "network"),
        ({"auth_url": "https://c/v3", "verify": 3}, "verify"),
        ({"auth_url": "https://c/v3", "regoin": "RegionOne"}, "regoin"),
    ],
)
def test_bad_settings_name_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"^providers\.openstack: {key}: "):
        provider_from_config("openstack", {"openstack": section})


# -- create --------------------------------------------------------------------------------------
async def test_create_reports_progress_and_tags_the_server_as_the_requester(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    alice = make_credential("alice")
    p = provider(url, network="private")
    steps = Steps()
    expires = datetime(2030, 1, 8, 12, 0, tzinfo=UTC)
    made = await p.create(vm(flavor="m1.large", expires_at=expires), steps, credential=cred(alice))

    assert steps.names == ["creating", "building", "address assigned", "ready"]
    server = peer.servers[made.external_id]
    assert made.status.state is ResourceState.RUNNING
    assert made.status.addresses == (server.address,) and server.address
    assert (made.details["flavor"], made.details["cpus"], made.details["image"]) == (
        "m1.large",
        4,
        "ubuntu-22.04",
    )
    assert server.flavor["name"] == "m1.large" and server.network is not None
    assert server.network["name"] == "private"
    assert server.metadata == {"qm-owner": "alice", "qm-expires": "2030-01-08T12:00:00+00:00"}
    # every request after the token was made with alice's own application credential
    alice_id = alice.split(":", 1)[0]
    assert set(peer.issued) == {alice_id}
    api = ("/compute/v2.1/", "/image/v2", "/network/v2")
    assert {c.credential_id for c in peer.calls if c.path.startswith(api)} == {alice_id}
    token_request = peer.calls_to("POST", "/auth/tokens")[0].body
    assert token_request["auth"]["identity"]["application_credential"]["id"] == alice_id


@pytest.mark.parametrize(
    ("cpus", "memory_mb", "flavor"),
    [(1, 512, "m1.tiny"), (2, 3000, "m1.medium"), (3, 1024, "m1.large"), (None, 9000, "m1.xlarge")],
)
async def test_cpus_and_memory_pick_the_smallest_fitting_flavor(
    openstack_cloud: Cloud, cpus: int | None, memory_mb: int, flavor: str
) -> None:
    url, make_credential, peer = openstack_cloud
    made = await provider(url).create(
        vm(cpus=cpus, memory_mb=memory_mb), Steps(), credential=cred(make_credential("alice"))
    )
    assert made.details["flavor"] == flavor
    assert peer.servers[made.external_id].flavor["name"] == flavor


async def test_default_image_from_settings(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    p = provider(url, default_image="rocky-9")
    made = await p.create(vm(image=None), Steps(), credential=cred(make_credential("alice")))
    assert peer.servers[made.external_id].image_id == peer.add_image("rocky-9")["id"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (vm(flavor="m1.huge"), r"no flavor 'm1.huge'; it offers m1.large, m1.medium, .*m1.xlarge"),
        (vm(image="windows-11"), r"no image 'windows-11'; it offers rocky-9, ubuntu-22.04"),
        (vm(image=None), r"Which image\? This cloud offers rocky-9, ubuntu-22.04, ubuntu-24.04"),
        (vm(cpus=64, memory_mb=1024), r"No flavor has 64 CPUs and 1 GB; the largest is m1.xlarge"),
        (vm(flavor=None), r"Which size\? Name a flavor \(m1.large, .*\) or CPUs and memory"),
    ],
)
async def test_unknown_flavor_or_image_names_what_exists(
    openstack_cloud: Cloud, spec: ResourceSpec, message: str
) -> None:
    url, make_credential, peer = openstack_cloud
    with pytest.raises(InvalidSpec, match=message):
        await provider(url).create(spec, Steps(), credential=cred(make_credential("alice")))
    assert not peer.calls_to("POST", "/servers$") and not peer.servers


async def test_flavor_removed_from_the_cloud(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.remove_flavor("m1.large")
    with pytest.raises(InvalidSpec, match=r"no flavor 'm1\.large'") as caught:
        await provider(url).create(
            vm(flavor="m1.large"), Steps(), credential=cred(make_credential("alice"))
        )
    assert "m1.medium" in str(caught.value) and "m1.xlarge" in str(caught.value)


async def test_unknown_network_setting(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    with pytest.raises(InvalidSpec, match=r"no network 'campus'.*providers\.openstack\.network"):
        await provider(url, network="campus").create(
            vm(), Steps(), credential=cred(make_credential("alice"))
        )
    assert not peer.servers


@pytest.mark.parametrize("status", [403, 413])
async def test_quota_exceeded(openstack_cloud: Cloud, status: int) -> None:
    url, make_credential, peer = openstack_cloud
    peer.quota_status = status
    peer.quota["cores"] = 6
    alice = cred(make_credential("alice"))
    p = provider(url)
    await p.create(vm("vm-1", flavor="m1.large"), Steps(), credential=alice)
    with pytest.raises(QuotaExceeded) as caught:
        await p.create(vm("vm-2", flavor="m1.large"), Steps(), credential=alice)
    assert str(caught.value) == (
        "OpenStack refused: Quota exceeded for cores: Requested 4, but already used 4 of 6 "
        "cores. Release a VM you no longer need or ask your project's admins for more quota."
    )
    assert len(peer.servers) == 1
    assert [c.status for c in peer.calls_to("POST", "/servers$")] == [202, status]


async def test_server_that_goes_to_error_reports_the_fault_and_is_removed(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    peer.fail_builds.append("No valid host was found. There are not enough hosts available.")
    steps = Steps()
    with pytest.raises(ProviderError) as caught:
        await provider(url).create(vm(), steps, credential=cred(make_credential("alice")))
    assert str(caught.value) == (
        "OpenStack could not build vm-1: No valid host was found. There are not enough hosts "
        "available. The failed server was removed."
    )
    assert steps.names == ["creating", "building"]
    assert len(peer.calls_to("DELETE", "/servers/")) == 1
    assert all(s.deleting for s in peer.servers.values())


async def test_build_that_never_finishes_is_reported_with_the_server_id(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    peer.build_polls = 10_000
    p = provider(url, build_timeout_seconds=0.3)
    with pytest.raises(
        ProviderError, match=r"vm-1 is still not ready \(build\) after 0.3 s; it is left as"
    ):
        await p.create(vm(), Steps(), credential=cred(make_credential("alice")))
    (server_id,) = peer.servers
    listed = await p.list(credential=cred(make_credential("alice")))
    assert [(r.external_id, r.status.state) for r in listed] == [
        (server_id, ResourceState.CREATING)
    ]


# -- backend failures ----------------------------------------------------------------------------
async def test_5xx_on_create_is_backend_unavailable(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.fail("POST", r"/compute/v2.1/servers$", 503)
    with pytest.raises(BackendUnavailable, match=r"failed \(503\) while creating the server"):
        await provider(url).create(vm(), Steps(), credential=cred(make_credential("alice")))
    assert not peer.servers


async def test_passing_5xx_while_waiting_does_not_abandon_the_build(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.build_polls = 3
    flaky = peer.fail("GET", r"/servers/[0-9a-f-]{36}$", 503, count=2)
    steps = Steps()
    made = await provider(url).create(vm(), steps, credential=cred(make_credential("alice")))
    assert made.status.state is ResourceState.RUNNING and flaky.count == 0
    assert steps.names == ["creating", "building", "address assigned", "ready"]


async def test_lasting_5xx_while_waiting_gives_up(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.fail("GET", r"/servers/[0-9a-f-]{36}$", 503, count=3)
    with pytest.raises(BackendUnavailable, match=r"failed \(503\) while checking the server"):
        await provider(url).create(vm(), Steps(), credential=cred(make_credential("alice")))
    assert len(peer.servers) == 1  # tagged with qm-owner: list and a reconcile will see it


async def test_5xx_on_status_is_backend_unavailable(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=alice)
    peer.fail("GET", "/servers/", 500)
    with pytest.raises(BackendUnavailable, match="try again later"):
        await p.status(made.external_id, credential=alice)
    assert (await p.status(made.external_id, credential=alice)).state is ResourceState.RUNNING


async def test_5xx_from_keystone_is_backend_unavailable(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.fail("POST", "/auth/tokens", 503)
    with pytest.raises(BackendUnavailable, match=r"failed \(503\) while listing servers"):
        await provider(url).list(credential=cred(make_credential("alice")))


@pytest.mark.parametrize(("method", "path"), [("GET", "/servers/detail"), ("POST", "/auth/tokens")])
async def test_slow_cloud_times_out_without_stalling_the_loop(
    openstack_cloud: Cloud, method: str, path: str
) -> None:
    url, make_credential, peer = openstack_cloud
    peer.fail(method, path, status=0, delay=5.0)
    p = provider(url, timeout_seconds=0.5)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    with pytest.raises(
        BackendUnavailable, match=r"did not answer within 0.5 s \(listing servers\)"
    ):
        await p.list(credential=cred(make_credential("alice")))
    elapsed = time.monotonic() - started
    ticker.cancel()
    assert 0.45 < elapsed < 3
    assert ticks > 20  # the event loop went on running while the request hung


async def test_two_users_at_once_each_with_her_own_credential(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    p = provider(url)
    users = ["alice", "bob", "carol"]
    made = await asyncio.gather(
        *(
            p.create(vm(f"{u}-1", owner=u), Steps(), credential=cred(make_credential(u)))
            for u in users
        )
    )
    projects = {c.user_name: c.project_id for c in peer.credentials.values()}
    for user, resource in zip(users, made, strict=True):
        server = peer.servers[resource.external_id]
        assert (server.metadata["qm-owner"], server.project_id) == (user, projects[user])
    by_id = {r.external_id: r for r in made}
    reads = [c for c in peer.calls if c.path.rsplit("/", 1)[-1] in by_id]
    assert len(reads) >= 3 * 2
    for call in reads:
        assert call.user == peer.servers[call.path.rsplit("/", 1)[-1]].metadata["qm-owner"]


@pytest.mark.parametrize(
    ("settings", "where"),
    [({"region": "Nowhere"}, "region Nowhere, public"), ({"interface": "admin"}, "any, admin")],
)
async def test_region_or_interface_the_catalog_lacks(
    openstack_cloud: Cloud, settings: dict[str, str], where: str
) -> None:
    url, make_credential, _ = openstack_cloud
    with pytest.raises(ProviderError, match=rf"no service for listing servers \((region )?{where}"):
        await provider(url, **settings).list(credential=cred(make_credential("alice")))


async def test_unreachable_cloud(free_port: int) -> None:
    p = provider(f"http://127.0.0.1:{free_port}/identity/v3")
    with pytest.raises(BackendUnavailable, match=r"127.0.0.1 is not reachable"):
        await p.status("x", credential=cred("abc:def"))


async def test_expired_token_is_renewed_once_and_the_call_carries_on(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    peer.token_uses = 3
    alice = make_credential("alice")
    made = await provider(url).create(vm(), Steps(), credential=cred(alice))
    assert made.status.state is ResourceState.RUNNING
    assert len(peer.issued) >= 2 and set(peer.issued) == {alice.split(":")[0]}
    assert any(c.status == 401 for c in peer.calls)


# -- credentials ---------------------------------------------------------------------------------
async def test_no_credential_says_how_to_store_one(openstack_cloud: Cloud) -> None:
    url, _, peer = openstack_cloud
    with pytest.raises(CredentialRequired, match="store my openstack token"):
        await provider(url).create(vm(), Steps(), credential=None)
    assert not peer.calls


async def test_revoked_credential(openstack_cloud: Cloud) -> None:
    url, _, peer = openstack_cloud
    alice = peer.add_user("alice")
    peer.revoke(alice)
    with pytest.raises(CredentialRequired, match="did not accept your application credential") as e:
        await provider(url).list(credential=cred(alice.as_text()))
    assert "create a new one, then say “replace my openstack token”" in str(e.value)
    assert alice.secret not in json.dumps([c.path for c in peer.calls])


def _shapes(cred_id: str, secret: str) -> list[str]:
    return [
        f"{cred_id}:{secret}",
        json.dumps({"id": cred_id, "name": "qm", "secret": secret, "roles": "member"}),
        json.dumps({"application_credential_id": cred_id, "application_credential_secret": secret}),
        (
            "clouds:\n  mycloud:\n    auth:\n      auth_url: https://keystone:5000/v3\n"
            f"      application_credential_id: {cred_id}\n"
            f"      application_credential_secret: '{secret}'\n"
            "    auth_type: v3applicationcredential\n"
        ),
        (
            "export OS_AUTH_TYPE=v3applicationcredential\n"
            f"export OS_APPLICATION_CREDENTIAL_ID={cred_id}\n"
            f'export OS_APPLICATION_CREDENTIAL_SECRET="{secret}"\n'
        ),
    ]


@pytest.mark.parametrize("shape", range(5))
async def test_credential_shapes_people_paste(openstack_cloud: Cloud, shape: int) -> None:
    url, _, peer = openstack_cloud
    alice = peer.add_user("alice")
    text = _shapes(alice.id, alice.secret)[shape]
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=cred(text))
    assert [r.external_id for r in await p.list(credential=cred(text))] == [made.external_id]
    assert peer.issued[0] == alice.id


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("   ", "none stored"),
        ("justonetoken", "no application credential id and secret"),
        (":s3cr3t-value-xyz", "the id is empty"),
        ("abc123:", "the secret is empty"),
        ("clouds: {a: {auth: {application_credential_id: abc}}}", "the secret is empty"),
        ("export OS_APPLICATION_CREDENTIAL_SECRET=s3cr3t-value-xyz", "the id is empty"),
        ("{unclosed: [s3cr3t-value-xyz", "no application credential id and secret"),
        ("x" * 20_000, "it is far too long"),
    ],
)
async def test_unusable_credentials_are_explained_without_the_value(
    openstack_cloud: Cloud, text: str, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    url, _, peer = openstack_cloud
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CredentialRequired) as caught:
        await provider(url).status("x", credential=cred(text))
    message = str(caught.value)
    if why == "none stored":
        assert "you have none stored" in message
    else:
        assert f"({why})" in message and "replace my openstack token" in message
    assert "s3cr3t-value-xyz" not in message and "s3cr3t" not in caplog.text
    assert not peer.calls


# -- two users -----------------------------------------------------------------------------------
async def test_each_user_sees_only_her_own_servers(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice, bob = cred(make_credential("alice")), cred(make_credential("bob"))
    p = provider(url)
    a1 = await p.create(vm("a-1"), Steps(), credential=alice)
    b1 = await p.create(vm("b-1", owner="bob"), Steps(), credential=bob)

    assert [r.name for r in await p.list(credential=alice)] == ["a-1"]
    assert [(r.name, r.details["owner"]) for r in await p.list(credential=bob)] == [("b-1", "bob")]
    with pytest.raises(ResourceNotFound, match=f"no OpenStack server {a1.external_id} in your"):
        await p.status(a1.external_id, credential=bob)
    with pytest.raises(ResourceNotFound):
        await p.delete(a1.external_id, Steps(), credential=bob)
    with pytest.raises(ResourceNotFound):
        await p.extend(a1.external_id, datetime.now(UTC) + WEEK, credential=bob)
    assert a1.external_id in peer.servers and not peer.servers[a1.external_id].deleting
    assert peer.servers[a1.external_id].project_id != peer.servers[b1.external_id].project_id


# -- status, extend, list, usage, delete ---------------------------------------------------------
async def test_status_follows_the_server(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.build_polls = 3
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=alice)
    peer.servers[made.external_id].status = "SHUTOFF"
    stopped = await p.status(made.external_id, credential=alice)
    assert (stopped.state, stopped.detail) == (ResourceState.STOPPED, "shutoff")
    peer.servers[made.external_id].status = "ERROR"
    peer.servers[made.external_id].fault = "disk failure"
    broken = await p.status(made.external_id, credential=alice)
    assert (broken.state, broken.detail) == (ResourceState.ERROR, "disk failure")


async def test_extend_sets_the_expiry_metadata(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(
        vm(expires_at=datetime(2030, 1, 1, tzinfo=UTC)), Steps(), credential=alice
    )
    await p.extend(made.external_id, datetime(2030, 2, 1, 9, 30, tzinfo=UTC), credential=alice)
    assert peer.servers[made.external_id].metadata["qm-expires"] == "2030-02-01T09:30:00+00:00"
    (listed,) = await p.list(credential=alice)
    assert listed.expires_at == datetime(2030, 2, 1, 9, 30, tzinfo=UTC)


async def test_list_holds_only_servers_the_bot_made(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=alice)
    mine = peer.servers[made.external_id]
    peer.servers["hand-made"] = Server(
        id="hand-made",
        name="made-in-horizon",
        project_id=mine.project_id,
        user_id=mine.user_id,
        image_id=mine.image_id,
        flavor=mine.flavor,
        metadata={},
        network=None,
        status="ACTIVE",
    )
    assert [r.external_id for r in await p.list(credential=alice)] == [made.external_id]


async def test_usage_from_diagnostics_cpu_time(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(flavor="m1.medium"), Steps(), credential=alice)  # 2 vCPUs
    server = peer.servers[made.external_id]
    server.uptime, server.cpu_time_ns = 1000, 400 * 10**9
    since = datetime.now(UTC) - timedelta(hours=1)
    first = await p.usage(made.external_id, since, credential=alice)
    assert first.cpu_percent == pytest.approx(20.0)
    assert first.details["method"] == "since boot"
    server.uptime, server.cpu_time_ns = 4600, 400 * 10**9 + 72 * 10**9  # 1 h later, 1 % busy
    second = await p.usage(made.external_id, since, credential=alice)
    assert second.cpu_percent == pytest.approx(1.0)
    assert second.details == {
        "method": "since previous reading",
        "window_seconds": 3600.0,
        "cpus": 2,
    }
    assert second.until - second.since == timedelta(hours=1)


async def test_usage_where_diagnostics_are_for_admins_only(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=alice)
    peer.diagnostics_admin_only = True
    with pytest.raises(ProviderError, match="only administrators read server diagnostics") as e:
        await p.usage(made.external_id, datetime.now(UTC), credential=alice)
    assert type(e.value).__name__ == "UsageUnavailable"


async def test_delete_waits_until_the_server_is_gone(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    peer.delete_polls = 3
    alice = cred(make_credential("alice"))
    p = provider(url)
    made = await p.create(vm(), Steps(), credential=alice)
    steps = Steps()
    await p.delete(made.external_id, steps, credential=alice)
    assert steps.seen == [("deleting", "vm-1"), ("deleted", "vm-1")]
    assert made.external_id not in peer.servers
    assert len(peer.calls_to("GET", f"/servers/{made.external_id}$")) >= 4
    with pytest.raises(ResourceNotFound, match="deleted already"):
        await p.status(made.external_id, credential=alice)
    assert await p.list(credential=alice) == []
    with pytest.raises(ResourceNotFound, match="deleted already"):
        await p.delete(made.external_id, Steps(), credential=alice)
    await p.close()


# -- secrets -------------------------------------------------------------------------------------
async def test_the_secret_is_never_logged_nor_in_errors(
    openstack_cloud: Cloud, caplog: pytest.LogCaptureFixture
) -> None:
    url, make_credential, peer = openstack_cloud
    caplog.set_level(logging.DEBUG)
    for name in ("keystoneauth", "urllib3", "openstack"):  # an earlier bot may have quieted them
        caplog.set_level(logging.DEBUG, logger=name)
    alice = make_credential("alice")
    secret = secret_of(alice)
    p = provider(url, network="private")
    errors: list[str] = []
    made = await p.create(vm(), Steps(), credential=cred(alice))
    await p.usage(made.external_id, datetime.now(UTC), credential=cred(alice))
    peer.token_uses = 1  # every call re-authenticates
    await p.extend(made.external_id, datetime.now(UTC) + WEEK, credential=cred(alice))
    for fail in (
        lambda: peer.fail("GET", "/servers/", 502),
        lambda: peer.fail("POST", "/auth/tokens", 401, count=5),
        lambda: peer.fail("GET", "/servers/", 0, delay=3),
    ):
        fail()
        try:
            await provider(url, timeout_seconds=0.5).status(
                made.external_id, credential=cred(alice)
            )
        except ProviderError as exc:
            errors.append(f"{exc!s} {exc!r}")
    peer.token_uses = None
    peer.faults.clear()
    peer.revoke(next(c for c in peer.credentials.values() if c.secret == secret))
    try:
        await p.delete(made.external_id, Steps(), credential=cred(alice))
    except ProviderError as exc:
        errors.append(f"{exc!s} {exc!r}")
    assert len(errors) == 4
    assert any("did not accept" in e for e in errors)
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"keystoneauth", "skills", "urllib3"} <= loggers, loggers
    assert secret not in caplog.text
    assert not any(secret in e for e in errors)
