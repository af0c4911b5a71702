"""Policy, approval and exact outcomes: beyond ``vms:`` limits a request is filed for staff
approval through the workflow engine (nobody approves their own), the approved request creates
the VMs; a partial failure is reported exactly and recorded; reconcile marks VMs deleted
outside the bot gone and reports untracked ones without deleting them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.providers import ResourceSpec, no_progress
from bot.storage.models import Request, Resource
from bot.testing import TestBot
from skills._resources.store import listing
from tests.vms.conftest import create_vm, providers


async def test_over_the_limit_needs_staff_approval_and_then_creates(bot: TestBot) -> None:
    (ask,) = await bot.say("alice", "spin up 3 ubuntu 22.04 m1.small for a week")
    assert "needs staff approval (more than 2 VMs at once)" in ask.text
    out = await bot.click("alice", ask, "Yes")
    (filed,) = [s for s in out if s.text.startswith("That needs staff approval")]
    assert filed.text.startswith(
        "That needs staff approval (more than 2 VMs at once), so I filed REQ-1"
    )
    assert any(s.channel == "helpdesk-vms" and "REQ-1" in s.text for s in out)
    assert await Resource.all().count() == 0
    assert any("REQ-1" in s.text for s in bot.dms_to("sam"))  # the approver hears of it

    (refused,) = await bot.say("alice", "approve REQ-1")
    assert "needs" in refused.text or "can't" in refused.text
    await bot.say("sam", "approve REQ-1")
    vms = await listing("test:alice")
    assert [v.name for v in vms] == ["vm-1", "vm-2", "vm-3"]
    assert all(v.request == "REQ-1" and v.state == "running" for v in vms)
    req = await Request.get(id=1)
    assert req.state == "approved"
    progress = [s for s in bot.dms_to("alice") if s.text.startswith("REQ-1: provision vms")]
    assert len(progress) == 1 and progress[0].edits  # one DM, edited
    assert "vm-3" in progress[0].text


async def test_nobody_approves_their_own_vm_request(bot: TestBot) -> None:
    (ask,) = await bot.say("sam", "spin up 3 ubuntu 22.04 m1.small for a week")
    await bot.click("sam", ask, "Yes")
    (refused,) = await bot.say("sam", "approve REQ-1")
    assert "separation of duties" in refused.text
    assert await Resource.all().count() == 0


async def test_partial_failure_is_reported_exactly_and_recorded(
    make_bot: Callable[..., Any],
) -> None:
    async with make_bot(providers={"libvirt": {"max_cpus": 6}}) as bot:
        out = await create_vm(bot, "alice", "spin up 2 ubuntu 22.04 m1.large for a week")
        report = out[-1].text
        assert report.startswith("Created 1 of 2 VMs:\n• vm-1 (ubuntu-22.04, m1.large")
        assert "vm-2 failed: vm-2 needs 4 CPUs" in report
        rows = {r.name: r.state for r in await Resource.all()}
        assert rows == {"vm-1": "running", "vm-2": "failed"}


async def test_reconcile_marks_gone_and_reports_untracked_without_deleting(
    bot: TestBot,
) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for a week")
    (vm,) = await listing("test:alice")
    provider = providers(bot).get("libvirt")
    await provider.delete(vm.external_id, no_progress)  # behind the bot's back
    stray = await provider.create(
        ResourceSpec("vm", "stray", "test:mallory", image="ubuntu-22.04", flavor="m1.small"),
        no_progress,
    )
    report = await bot.app.observers.run("vm-reconcile")
    kinds = sorted((f.kind, f.subject) for f in report.told)
    assert kinds == [("gone", "vm:1"), ("untracked", f"libvirt:{stray.external_id}")]
    await bot.app.background.idle()
    assert any("deleted outside of me" in s.text for s in bot.dms_to("alice"))
    assert any("I have not touched it" in s.text for s in bot.dms_to("sam"))
    assert (await Resource.get(name="vm-1")).state == "gone"
    assert stray.external_id in [r.external_id for r in await provider.list()]  # not deleted
    again = await bot.app.observers.run("vm-reconcile")
    assert again.told == []
