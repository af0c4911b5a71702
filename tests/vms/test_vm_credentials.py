"""VMs on OpenStack (the protocol peer in tests/peers/openstack.py, real openstacksdk) with the
requester's own vaulted application credential: no credential → a DM saying how to store one,
and the request resumes once it is stored; every use goes through the vault (audited, last
used); a revoked credential gets a clear next step; two providers → "where?"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.storage.models import AuditEvent
from credentials.vault import VAULT
from skills._resources.store import listing
from tests.peers.openstack import OpenStackPeer

Cloud = tuple[str, Callable[[str], str], OpenStackPeer]


def _openstack(url: str) -> dict[str, Any]:
    return {"auth_url": url, "network": "private", "poll_seconds": 0.02, "timeout_seconds": 10}


async def test_no_credential_then_stored_then_resumed_with_the_users_own_credential(
    make_bot: Callable[..., Any], openstack_cloud: Cloud
) -> None:
    url, make_credential, peer = openstack_cloud
    alice_cred = make_credential("alice")
    async with make_bot(providers={"openstack": _openstack(url)}) as bot:
        (ask,) = await bot.say(
            "alice", "spin up 1 ubuntu 22.04 m1.small for 3 days on openstack", channel="lab"
        )
        assert ask.text.startswith("Create 1 VM, ubuntu-22.04, m1.small (1 CPU, 2 GB), for 3 days")
        out = await bot.click("alice", ask, "Yes")
        in_thread = [s for s in out if s.channel == "lab"]
        dms = [s for s in out if s.dm_to == "alice"]
        assert "I need your openstack credential first" in in_thread[0].text
        assert "`store my openstack token`" in dms[0].text
        assert not peer.servers

        await bot.say("alice", "store my openstack token")
        out = await bot.say("alice", alice_cred)
        assert any("Thanks — carrying on with your request" in s.text for s in out)
        ready = [s for s in bot.sent if s.text.startswith("Your VM is ready")]
        assert ready and ready[0].channel == "lab" and ready[0].thread == ask.thread
        (vm,) = await listing("test:alice")
        assert vm.provider == "openstack" and vm.external_id in peer.servers
        assert peer.servers[vm.external_id].metadata["qm-owner"] == "test:alice"
        assert set(peer.issued) == {alice_cred.split(":", 1)[0]}  # her own, nobody else's

        info = await bot.app.services[VAULT].info("test:alice", "openstack")
        assert info is not None and info.last_used_at is not None
        await bot.app.audit.flush()
        uses = await AuditEvent.filter(kind="vault.use").values_list("detail", flat=True)
        assert uses and all(d.get("skill") == "vms" for d in uses), uses
        assert alice_cred not in "".join(s.text for s in bot.sent)

        # revoked in Keystone: the next request says what to do
        peer.revoke(peer.credentials[alice_cred.split(":", 1)[0]])
        (ask,) = await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days on openstack")
        out = await bot.click("alice", ask, "Yes")
        failed = out[-1].text
        assert "refused your stored `openstack` credential" in failed
        assert "`replace my openstack token`" in failed


async def test_two_providers_mean_a_where_question(
    make_bot: Callable[..., Any], openstack_cloud: Cloud
) -> None:
    url, _, _ = openstack_cloud
    async with make_bot(providers={"openstack": _openstack(url)}) as bot:
        (where,) = await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
        assert where.text == "Where should I create it?"
        assert [c.label for c in where.choices] == ["libvirt", "openstack"]
        (ask,) = await bot.click("alice", where, "libvirt")
        assert ask.text.endswith("for 3 days on libvirt?")


async def test_a_waiting_request_survives_a_restart(
    make_bot: Callable[..., Any], openstack_cloud: Cloud
) -> None:
    url, make_credential, peer = openstack_cloud
    settings = {"providers": {"openstack": _openstack(url)}, "vms": {"providers": ["openstack"]}}
    async with make_bot(**settings) as bot:
        (ask,) = await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
        out = await bot.click("alice", ask, "Yes")
        assert any("`store my openstack token`" in s.text for s in out)
    async with make_bot(**settings) as bot:
        await bot.say("alice", "store my openstack token")
        out = await bot.say("alice", make_credential("alice"))
        assert any("carrying on with your request" in s.text for s in out)
        assert any(s.text.startswith("Your VM is ready") for s in bot.dms_to("alice"))
        (vm,) = await listing("test:alice")
        assert vm.external_id in peer.servers
