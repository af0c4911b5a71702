"""VMs from chat end to end on libvirt's test driver: ask with follow-ups, restate and confirm,
create with progress in ONE edited message, ready message; list, show, extend, release."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.storage.models import AuditEvent, Resource
from bot.testing import TestBot
from skills._resources.store import listing
from tests.vms.conftest import START, create_vm, give_key, providers, texts


async def test_a_full_request_is_restated_then_created_with_one_progress_message(
    bot: TestBot,
) -> None:
    await give_key(bot, "alice")
    (ask,) = await bot.say("alice", "spin up 2 ubuntu 22.04 m1.large for a week", channel="lab")
    assert ask.text.startswith("Create 2 VMs, ubuntu-22.04, m1.large (4 CPUs, 8 GB), for 1 week")
    assert [c.label for c in ask.choices] == ["Yes", "No"]
    assert await Resource.all().count() == 0  # nothing before the yes

    out = await bot.click("alice", ask, "Yes")
    assert out[0].text.startswith("Creating 2 VMs")
    status = [s for s in out if s.text.startswith("Creating 2 VMs, ubuntu")]
    assert len(status) == 2  # the "creating…" reply, and the ONE status message …
    progress = status[1]
    assert progress.edits, "progress edits one message"  # … edited as the steps arrive
    assert progress.thread == ask.thread
    final = progress.text
    assert "✔ vm-1: address assigned" in final and "✔ vm-2: booting" in final
    assert final.rstrip().endswith("\nDone: 2 of 2 created.")
    ready = out[-1].text
    assert ready.startswith("Your VMs are ready:")
    assert "ssh ubuntu@" in ready and "vm-1" in ready and "vm-2" in ready

    vms = await listing("test:alice")
    assert [v.name for v in vms] == ["vm-1", "vm-2"]
    assert all(v.state == "running" and v.external_id and v.addresses for v in vms)
    assert all(v.expires_at == START + timedelta(days=7) for v in vms)
    assert vms[0].spec["flavor"] == "m1.large" and vms[0].spec["image"] == "ubuntu-22.04"
    await bot.app.audit.flush()
    kinds = await AuditEvent.filter(target="vm-1").values_list("kind", flat=True)
    assert "vm.reserve" in kinds and "vm.create" in kinds


async def test_only_what_is_missing_is_asked(bot: TestBot) -> None:
    (q1,) = await bot.say("alice", "can i get a vm?")
    assert q1.text.startswith("Which image")
    (q2,) = await bot.say("alice", "ubuntu 22.04")
    assert q2.text.startswith("Which size")
    (q3,) = await bot.say("alice", "4 cpus and 16 gigs")
    assert q3.text.startswith("For how long")
    (ask,) = await bot.say("alice", "10 days")
    assert ask.text.startswith("Create 1 VM, ubuntu-22.04, 4 CPUs, 16 GB, for 10 days on libvirt?")
    out = await bot.say("alice", "yes")
    assert out[-1].text.startswith("Your VM is ready:")
    (vm,) = await listing("test:alice")
    assert vm.spec["cpus"] == 4 and vm.spec["memory_gb"] == 16


async def test_sizes_in_words_are_not_a_count(bot: TestBot) -> None:
    (ask,) = await bot.say("alice", "can i get a vm? ubuntu 22.04, 4 cpus, 16 gigs, for a week")
    assert ask.text.startswith("Create 1 VM, ubuntu-22.04, 4 CPUs, 16 GB, for 1 week"), ask.text


async def test_no_means_nothing_is_created(bot: TestBot) -> None:
    await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    (answer,) = await bot.say("alice", "no")
    assert answer.text == "OK, nothing changed."
    assert await Resource.all().count() == 0


async def test_list_show_extend_release_in_plain_words_and_commands(bot: TestBot) -> None:
    await give_key(bot, "alice")
    await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    await bot.say("alice", "yes")
    await bot.say("bob", "spin up 1 debian 12 m1.small for 3 days")
    await bot.say("bob", "yes")

    (mine,) = await bot.say("alice", "list my vms")
    assert "vm-1" in mine.text and "vm-2" not in mine.text
    (mine2,) = await bot.say("alice", "which of my vms are running?")
    assert "vm-1" in mine2.text and "vm-2" not in mine2.text
    (shown,) = await bot.say("alice", "show vm-1")
    assert (
        shown.text.startswith("vm-1 — ubuntu-22.04, m1.small (1 CPU, 2 GB) on libvirt: running")
        and "ssh ubuntu@" in shown.text
    )
    (hidden,) = await bot.say("alice", "show vm-2")
    assert hidden.text.startswith("You have no VM called vm-2")
    (staff,) = await bot.say("sam", "list all vms")
    assert "vm-1" in staff.text and "vm-2" in staff.text
    (refused,) = await bot.say("alice", "list all vms")
    assert "needs" in refused.text

    (ext,) = await bot.say("alice", "extend vm-1 by 1 week")
    assert ext.text.startswith("Extended vm-1 by 1 week")
    (vm,) = await listing("test:alice")
    assert vm.expires_at == START + timedelta(days=10)

    (maybe,) = await bot.say("alice", "can you extend vm-1 by 2 days?")
    assert maybe.text.startswith("I won't act on a question or a maybe")
    (ask,) = await bot.say("alice", "please extend vm-1 by 2 days")
    assert ask.text.startswith("Extend vm-1 (ubuntu-22.04, m1.small (1 CPU, 2 GB)) by 2 days?")
    (ext2,) = await bot.click("alice", ask, "Yes")
    assert ext2.text.startswith("Extended vm-1 by 2 days")

    (ask,) = await bot.say("alice", "i'm done with vm-1, release it")
    assert ask.text.startswith("Delete vm-1 (ubuntu-22.04, m1.small (1 CPU, 2 GB), 192.168.")
    assert (await listing("test:alice"))[0].state == "running"
    (done,) = await bot.click("alice", ask, "Yes")
    assert done.text.startswith("Deleted vm-1")
    assert await listing("test:alice") == []
    row = await Resource.get(name="vm-1")
    assert row.state == "released"
    names = [r.name for r in await providers(bot).get("libvirt").list()]
    assert not any(n.endswith("vm-1") for n in names) and any(n.endswith("vm-2") for n in names)
    assert texts(await bot.say("alice", "release vm-2"))[0].startswith("You have no VM called vm-2")


async def test_create_list_release_on_postgresql(make_bot: Any, pg_url: str) -> None:
    async with make_bot(database_url=pg_url) as bot:
        out = await create_vm(bot, "alice", "spin up 2 ubuntu 22.04 m1.small for 3 days")
        assert out[-1].text.startswith("Your VMs are ready:")
        (mine,) = await bot.say("alice", "list my vms")
        assert "vm-1" in mine.text and "vm-2" in mine.text
        (ask,) = await bot.say("alice", "release vm-2")
        (done,) = await bot.click("alice", ask, "Yes")
        assert done.text.startswith("Deleted vm-2")
        assert [v.name for v in await listing("test:alice")] == ["vm-1"]


async def test_a_vm_being_created_cannot_be_released(bot: TestBot) -> None:
    (ask,) = await bot.say("alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    from bot.storage.models import User
    from skills._resources import store

    owner = await bot.app.users.ensure("test", "alice", "alice")
    assert isinstance(owner, User)
    await store.reserve(
        owner, "libvirt", {"image": "x"}, now=START, expires_at=START, actor="test:alice"
    )
    (refused,) = await bot.say("alice", "release vm-1")
    assert refused.text == "vm-1 is still being created; release it once it is ready."
    assert ask.choices


async def test_beyond_the_hard_limits_is_refused_plainly(bot: TestBot) -> None:
    (many,) = await bot.say("alice", "spin up 50 ubuntu 22.04 m1.small for a week")
    assert many.text.startswith("I create at most 10 VMs in one request")
    (long,) = await bot.say("alice", "can i get an ubuntu 22.04 vm m1.small for 3 years")
    assert long.text == "VMs are lent for at most 365 days; ask for less."
    assert await Resource.all().count() == 0


async def test_staff_see_and_release_anyones_vm_and_the_owner_is_told(bot: TestBot) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
    (shown,) = await bot.say("sam", "show vm-1")
    assert "Owner: alice" in shown.text
    (refused,) = await bot.say("bob", "release vm-1")
    assert refused.text.startswith("You have no VM called vm-1")
    (ask,) = await bot.say("sam", "release vm-1")
    assert ask.text.startswith("Delete vm-1 of alice")
    await bot.click("sam", ask, "Yes")
    assert any(s.text == "sam deleted your VM vm-1." for s in bot.dms_to("alice"))
    assert (await Resource.get(name="vm-1")).state == "released"
