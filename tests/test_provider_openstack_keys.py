"""The requester's SSH keys on OpenStack servers, through the real openstacksdk against the
protocol peer: they reach Nova as base64 cloud-init user-data that authorises them for the
image's default user and holds nothing else; no keys, no user-data; too much for Nova's limit is
refused before anything is created; the login user comes from the image settings; and the peer
checks ``user_data`` as Nova's schema does."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any

import openstack.config
import openstack.connection
import openstack.exceptions as sdk_errors
import pytest
import yaml

from bot.errors import ConfigError
from bot.providers import InvalidSpec, provider_from_config
from tests.peers.openstack import OpenStackPeer
from tests.test_provider_openstack import Steps, cred, provider, secret_of, vm

Cloud = tuple[str, Callable[[str], str], OpenStackPeer]


def public_key(kind: str = "ssh-ed25519", size: int = 32, comment: str = "alice@laptop") -> str:
    """A key line whose data decodes and names its type, as ``parse_public_key`` wants; the
    rest of the data is random (a real ed25519 key is 32 bytes of it)."""
    blob = len(kind).to_bytes(4, "big") + kind.encode() + os.urandom(size)
    return f"{kind} {base64.b64encode(blob).decode()} {comment}".strip()


def created_bodies(peer: OpenStackPeer) -> list[dict[str, Any]]:
    return [c.body["server"] for c in peer.calls_to("POST", r"/servers$")]


async def test_keys_reach_nova_as_user_data_for_the_default_user_and_nothing_else(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    alice = make_credential("alice")
    keys = [public_key(comment="alice@laptop"), public_key("ssh-rsa", 400, "alice@desk")]
    spec = vm(
        extra={
            "ssh_keys": keys,
            "login_user": "ubuntu",
            "quartermaster_id": "vm-1",
            "request": "REQ-7",
        }
    )
    made = await provider(url).create(spec, Steps(), credential=cred(alice))

    (body,) = created_bodies(peer)
    assert base64.b64decode(body["user_data"], validate=True)  # base64 text on the wire
    text = peer.user_data(made.external_id)
    assert text is not None and text.startswith("#cloud-config\n")
    assert yaml.safe_load(text) == {"ssh_authorized_keys": keys}
    for other in ("test:", "alice", "vm-1", "REQ-7", secret_of(alice), "users:", "sudo"):
        assert other not in text.replace("alice@laptop", "").replace("alice@desk", "")
    assert made.details["ssh_key"] is True and made.details["ssh_keys"] == 2
    assert made.details["login_user"] == "ubuntu"


async def test_no_keys_no_user_data(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    for n, extra in enumerate(({}, {"ssh_keys": []})):
        made = await provider(url).create(
            vm(f"vm-{n}", extra=extra), Steps(), credential=cred(make_credential("bob"))
        )
        assert made.details["ssh_key"] is False and made.details["ssh_keys"] == 0
        assert peer.user_data(made.external_id) is None
    assert all("user_data" not in body for body in created_bodies(peer))


async def test_the_login_user_comes_from_the_image_settings(openstack_cloud: Cloud) -> None:
    url, make_credential, peer = openstack_cloud
    rocky_id = next(i["id"] for i in peer.images.values() if i["name"] == "rocky-9")
    images = {"rocky-9": {"login_user": "rocky"}, "ubuntu-24.04": {"login_user": "ubuntu"}}
    p = provider(url, images=images)
    alice = cred(make_credential("alice"))
    extra = {"ssh_keys": [public_key()], "login_user": "cloud-user"}
    rocky = await p.create(vm("a", image="rocky-9", extra=extra), Steps(), credential=alice)
    by_id = await p.create(vm("b", image=rocky_id, extra=extra), Steps(), credential=alice)
    other = await p.create(vm("c", image="ubuntu-22.04", extra=extra), Steps(), credential=alice)
    bare = await p.create(vm("d", image="ubuntu-22.04"), Steps(), credential=alice)
    assert [m.details["login_user"] for m in (rocky, by_id, other, bare)] == [
        "rocky",
        "rocky",
        "cloud-user",  # not in images: the caller's default (the VM skill's vms.login_user)
        None,  # and no default given: the caller keeps its own
    ]


async def test_keys_beyond_nova_s_limit_are_refused_before_anything_is_made(
    openstack_cloud: Cloud,
) -> None:
    url, make_credential, peer = openstack_cloud
    keys = [public_key("ssh-rsa", 2900, f"key{n}") for n in range(20)]  # ~3.9 kB each
    steps = Steps()
    with pytest.raises(InvalidSpec) as caught:
        await provider(url).create(
            vm(extra={"ssh_keys": keys}), steps, credential=cred(make_credential("alice"))
        )
    message = str(caught.value)
    assert message.startswith("Your 20 SSH keys are too many for an OpenStack server")
    assert "at most 65,535" in message and "Keep fewer keys" in message
    assert keys[0].split()[1][:40] not in message  # no key data echoed
    assert not peer.servers and not peer.calls and not steps.seen

    # the most keys the bot takes, Nova (the peer, checking as Nova's schema does) takes too,
    # and they come close to the limit: the bot's check is Nova's, not a guess
    for n in range(len(keys) - 1, 0, -1):
        try:
            made = await provider(url).create(
                vm(f"vm-{n}", extra={"ssh_keys": keys[:n]}),
                Steps(),
                credential=cred(make_credential("alice")),
            )
        except InvalidSpec as exc:
            assert str(exc).startswith(f"Your {n} SSH keys are too many")
            continue
        break
    server = peer.servers[made.external_id]
    assert server.user_data is not None
    assert 65_535 - len(keys[n]) * 4 / 3 < len(server.user_data) <= 65_535
    assert yaml.safe_load(peer.user_data(server.id) or "") == {"ssh_authorized_keys": keys[:n]}


async def test_a_comment_cannot_add_configuration(openstack_cloud: Cloud) -> None:
    """A comment that tries to start a new YAML line stays one line of the key's text."""
    url, make_credential, peer = openstack_cloud
    key = public_key(comment="x\nruncmd: [reboot]\n#")
    made = await provider(url).create(
        vm(extra={"ssh_keys": [key]}), Steps(), credential=cred(make_credential("alice"))
    )
    config = yaml.safe_load(peer.user_data(made.external_id) or "")
    assert list(config) == ["ssh_authorized_keys"]
    (kept,) = config["ssh_authorized_keys"]
    assert kept == " ".join(key.split()) and kept.endswith("x runcmd: [reboot] #")


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("ssh-ed25519 AAAA", "ssh_keys must be a list"),
        (["-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA="], "private key"),
        ([public_key(comment="x" * 101)], "comment"),
        (['command="sh" ' + public_key()], "does not look like an SSH public key"),
    ],
)
async def test_bad_keys_are_invalid_spec_and_make_nothing(
    openstack_cloud: Cloud, given: Any, why: str
) -> None:
    url, make_credential, peer = openstack_cloud
    with pytest.raises(InvalidSpec, match=why):
        await provider(url).create(
            vm(extra={"ssh_keys": given}), Steps(), credential=cred(make_credential("alice"))
        )
    assert not peer.servers


@pytest.mark.parametrize(
    "images",
    [
        ["rocky-9"],
        {"rocky-9": "rocky"},
        {"rocky-9": {"login_user": "Rocky User"}},
        {"rocky-9": {"login_user": "rocky", "volume": "x"}},
    ],
)
def test_bad_image_settings_name_the_key(images: Any) -> None:
    with pytest.raises(ConfigError, match=r"^providers\.openstack: images"):
        provider_from_config(
            "openstack", {"openstack": {"auth_url": "https://c/v3", "images": images}}
        )


# -- the peer checks user_data as Nova does ------------------------------------------------------
def _connect(url: str, credential: str) -> openstack.connection.Connection:
    cred_id, secret = credential.split(":", 1)
    region = openstack.config.get_cloud_region(
        load_yaml_config=False,
        load_envvars=False,
        auth_type="v3applicationcredential",
        auth={
            "auth_url": url,
            "application_credential_id": cred_id,
            "application_credential_secret": secret,
        },
        api_timeout=10,
    )
    return openstack.connection.Connection(config=region)


@pytest.mark.parametrize(
    ("user_data", "why"),
    [("not base64!", "is not a 'base64'"), ("QUJD" * 16384, "is too long")],
)
async def test_peer_refuses_user_data_nova_would(
    openstack_cloud: Cloud, user_data: str, why: str
) -> None:
    import asyncio

    url, make_credential, peer = openstack_cloud
    image = next(iter(peer.images))

    def create() -> None:
        conn = _connect(url, make_credential("alice"))
        try:
            conn.compute.create_server(
                name="raw", image_id=image, flavor_id="1", networks="auto", user_data=user_data
            )
        finally:
            conn.close()

    with pytest.raises(sdk_errors.BadRequestException, match=why):
        await asyncio.to_thread(create)
    assert not peer.servers
