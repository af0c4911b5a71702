"""The ready message's login line through the message path: the image's own login user, an
``ssh`` line only when the owner's key went into the VM (else how to add one), and — on a real
libvirt storage pool — the key really in the VM's cloud-init seed."""

from __future__ import annotations

import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from bot.testing import TestBot
from skills._resources.store import listing
from tests.conftest import SessionLibvirtd
from tests.vms.conftest import create_vm, give_key, providers, public_key


async def test_the_ssh_line_uses_the_image_s_login_user(make_bot: Any) -> None:
    import libvirt

    conn = libvirt.open("test:///default")
    pool = conn.storagePoolLookupByName("default-pool")
    names = {img: f"{img}-{uuid.uuid4().hex[:6]}.qcow2" for img in ("jammy", "bookworm")}
    made = [
        pool.createXML(
            f"<volume><name>{n}</name><capacity unit='GiB'>2</capacity>"
            "<target><format type='qcow2'/></target></volume>",
            0,
        )
        for n in names.values()
    ]
    images = {
        "ubuntu-22.04": {"volume": names["jammy"], "login_user": "ubuntu"},
        "debian-12": {"volume": names["bookworm"], "login_user": "debian"},
    }
    try:
        async with make_bot(
            providers={"libvirt": {"storage_pool": "default-pool", "images": images}}
        ) as bot:
            await give_key(bot, "alice")
            out = await create_vm(bot, "alice", "spin up 1 debian 12 m1.small for 3 days")
            ready = out[-1].text
            (vm,) = await listing("test:alice")
            assert ready.startswith("Your VM is ready:")
            assert f"log in with `ssh debian@{vm.addresses[0]}`" in ready
            assert "ubuntu@" not in ready and "no SSH key" not in ready
            (shown,) = await bot.say("alice", "show vm-1")
            assert f"`ssh debian@{vm.addresses[0]}`" in shown.text
    finally:
        for volume in made:
            volume.delete(0)
        conn.close()


async def test_without_a_key_the_vm_is_made_and_the_reply_says_how_to_add_one(
    bot: TestBot,
) -> None:
    out = await create_vm(bot, "bob", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    ready = out[-1].text
    (vm,) = await listing("test:bob")
    assert vm.state == "running" and vm.ssh_key is False
    assert ready.startswith("Your VM is ready:")
    assert "ssh ubuntu@" not in ready
    assert f"{vm.addresses[0]} — no SSH login (no key was on file)" in ready
    assert "You have no SSH key on file, so nobody can log in to it with ssh." in ready
    assert "To add one, say `my ssh key is` followed by the one line of your" in ready
    assert "[redacted]" not in ready
    (shown,) = await bot.say("bob", "show vm-1")
    assert "no SSH login" in shown.text and "ssh ubuntu@" not in shown.text

    # the advice works: the key is kept, and the next VM gets the ssh line
    await give_key(bot, "bob")
    (listed,) = await bot.say("bob", "what's my ssh key?")
    assert listed.text.startswith("New VMs get your SSH key ssh-ed25519 SHA256:")
    again = await create_vm(bot, "bob", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    assert "log in with `ssh ubuntu@" in again[-1].text


async def test_a_bad_key_is_refused_in_words_and_not_kept(bot: TestBot) -> None:
    blob = public_key().split()[1]  # an ed25519 key's data, labelled as RSA
    (answer,) = await bot.say("carol", f"my ssh key is ssh-rsa {blob} carol@laptop")
    assert answer.text == "The key's data is not a ssh-rsa key; copy the whole line again."
    (none,) = await bot.say("carol", "what's my ssh key?")
    assert none.text.startswith("You have no SSH key on file.")


async def test_from_chat_to_a_real_storage_pool_the_key_lands_in_the_seed(
    make_bot: Any, session_libvirtd: SessionLibvirtd
) -> None:
    """The whole path on a real pool (private session-mode libvirtd, QEMU starts the guest):
    the profile's key, passed by the VM skill, is in the seed attached to the VM."""
    from skills._providers.cloud_init import read_seed

    image = session_libvirtd.pool_dir / "jammy.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", str(image), "1G"], check=True, timeout=30
    )
    session_libvirtd.chown(image)
    real = {
        "uri": session_libvirtd.uri,
        "storage_pool": session_libvirtd.pool,
        "domain_type": "qemu",
        "interface_type": "user",
        "images": {"ubuntu-22.04": {"volume": "jammy.qcow2", "login_user": "ubuntu"}},
        "timeout_seconds": 60,
    }
    async with make_bot(providers={"libvirt": real}) as bot:
        key = await give_key(bot, "alice")
        out = await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.tiny for 3 days")
        assert out[-1].text.startswith("Your VM is ready:"), out[-1].text
        (vm,) = await listing("test:alice")
        provider = providers(bot).get("libvirt")
        dom = (await provider._connection()).lookupByUUIDString(vm.external_id)
        cdrom = ET.fromstring(dom.XMLDesc(0)).find("devices/disk[@device='cdrom']/source")
        assert cdrom is not None
        label, files = read_seed(Path(cdrom.get("file", "")).read_bytes())
        user = yaml.safe_load(files["user-data"])["users"][0]
        assert (label, user["name"], user["ssh_authorized_keys"]) == ("cidata", "ubuntu", [key])

        (ask,) = await bot.say("alice", "release vm-1")
        (done,) = await bot.click("alice", ask, "Yes")
        assert done.text.startswith("Deleted vm-1")
        assert not Path(cdrom.get("file", "")).exists()


async def test_rows_from_before_keys_keep_their_ssh_line(bot: TestBot) -> None:
    from bot.storage.models import Resource

    await create_vm(bot, "dave", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    row = await Resource.get(name="vm-1")
    row.data = {k: v for k, v in row.data.items() if k not in ("ssh_key", "login_user")}
    await row.save(update_fields=["data"])
    (shown,) = await bot.say("dave", "show vm-1")
    (vm,) = await listing("test:dave")
    assert vm.ssh_key is None and f"`ssh ubuntu@{vm.addresses[0]}`" in shown.text
