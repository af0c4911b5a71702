"""The ready message's login line for OpenStack VMs, through the message path (TestBot, the
embedded language model, the real openstacksdk against tests/peers/openstack.py): the profile's
key reaches Nova as cloud-init user-data and the line is ``ssh <image's user>@<address>``;
without a key there is no user-data and the reply says how to add one; a provider that does
not say it took the key gets no ``ssh`` line, and the reply says why."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from bot.testing import TestBot
from skills._resources.store import listing
from tests.peers.openstack import OpenStackPeer
from tests.test_providers import memcloud  # noqa: F401  (a fixture: a provider plug-in)
from tests.vms.conftest import create_vm, give_key

Cloud = tuple[str, Callable[[str], str], OpenStackPeer]


def _openstack(url: str, **more: Any) -> dict[str, Any]:
    return {
        "auth_url": url,
        "network": "private",
        "poll_seconds": 0.02,
        "timeout_seconds": 10,
        **more,
    }


async def _store_credential(bot: TestBot, user: str, credential: str) -> None:
    await bot.say(user, "store my openstack token")
    out = await bot.say(user, credential)
    assert any("openstack" in s.text.lower() for s in out), [s.text for s in out]


async def test_the_key_goes_in_and_the_ready_line_is_ssh_with_the_image_s_user(
    make_bot: Callable[..., Any], openstack_cloud: Cloud
) -> None:
    url, make_credential, peer = openstack_cloud
    images = {"rocky-9": {"login_user": "rocky"}}
    settings = {"providers": {"openstack": _openstack(url, images=images)}}
    async with make_bot(**settings) as bot:
        key = await give_key(bot, "alice")
        await _store_credential(bot, "alice", make_credential("alice"))

        out = await create_vm(
            bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 3 days on openstack"
        )
        ready = out[-1].text
        (vm,) = await listing("test:alice")
        assert vm.provider == "openstack" and vm.ssh_key is True
        assert ready.startswith("Your VM is ready:")
        assert f"log in with `ssh ubuntu@{vm.addresses[0]}`" in ready
        assert "no SSH" not in ready and "SSH key on file" not in ready
        text = peer.user_data(vm.external_id) or ""
        assert yaml.safe_load(text) == {"ssh_authorized_keys": [key]}

        out = await create_vm(bot, "alice", "spin up 1 rocky 9 m1.small for 3 days on openstack")
        second = next(v for v in await listing("test:alice") if v.name != vm.name)
        assert f"log in with `ssh rocky@{second.addresses[0]}`" in out[-1].text
        (shown,) = await bot.say("alice", f"show {second.name}")
        assert f"`ssh rocky@{second.addresses[0]}`" in shown.text


async def test_without_a_key_no_user_data_and_the_reply_says_how_to_add_one(
    make_bot: Callable[..., Any], openstack_cloud: Cloud
) -> None:
    url, make_credential, peer = openstack_cloud
    async with make_bot(providers={"openstack": _openstack(url)}) as bot:
        await _store_credential(bot, "bob", make_credential("bob"))
        out = await create_vm(bot, "bob", "spin up 1 ubuntu 22.04 m1.small for 3 days on openstack")
        ready = out[-1].text
        (vm,) = await listing("test:bob")
        assert vm.ssh_key is False and peer.user_data(vm.external_id) is None
        assert "user_data" not in peer.calls_to("POST", r"/servers$")[0].body["server"]
        assert f"{vm.addresses[0]} — no SSH login (no key was on file)" in ready
        assert "You have no SSH key on file, so nobody can log in to it with ssh." in ready
        assert "To add one, say `my ssh key is`" in ready and "ssh ubuntu@" not in ready


async def test_a_provider_that_does_not_say_it_took_the_key_gets_no_ssh_line(
    make_bot: Callable[..., Any],
    memcloud: str,  # noqa: F811
) -> None:
    settings = {"providers": {"memcloud": {"quota": 2}}, "vms": {"providers": ["memcloud"]}}
    async with make_bot(**settings) as bot:
        await give_key(bot, "carol")
        out = await create_vm(bot, "carol", "spin up 1 ubuntu 22.04 m1.small for 3 days")
        ready = out[-1].text
        (vm,) = await listing("test:carol")
        assert vm.provider == "memcloud" and vm.ssh_key is False and vm.keys_on_file is True
        assert "ssh ubuntu@" not in ready
        assert "10.0.0.5 — no SSH login (memcloud does not take SSH keys)" in ready
        assert "memcloud does not put SSH keys into its VMs, so yours is not in it" in ready
        assert "You have no SSH key on file" not in ready
