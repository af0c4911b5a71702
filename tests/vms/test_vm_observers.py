"""The VM observers through the real runner, on libvirt's test driver, with time moved by the
clock: idle (Keep / Release / Snooze, not repeated after a restart), expiry warnings 15 and 5
days ahead, cleanup at expiry (dry run, then real), quiet hours, the staff summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.storage.models import Resource
from bot.testing import FakeClock, TestBot
from skills._resources.store import listing
from tests.vms.conftest import create_vm


def dm_texts(bot: TestBot, user: str) -> list[str]:
    return [s.text for s in bot.dms_to(user)]


async def test_idle_vm_is_reported_once_with_buttons_even_across_a_restart(
    make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    async with make_bot() as bot:
        await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
        report = await bot.app.observers.run("vm-idle")
        assert report.told == []  # idle, but not for long yet
        clock.advance(hours=49)
        report = await bot.app.observers.run("vm-idle")
        assert [(f.subject, f.kind) for f in report.told] == [("vm:1", "idle")]
        await bot.app.background.idle()
        (dm,) = [s for s in bot.dms_to("alice") if "idle" in s.text]
        assert dm.text.startswith("Your VM vm-1 (ubuntu-22.04, m1.small") and "2 days" in dm.text
        assert [c.label for c in dm.choices] == ["Keep", "Release", "Snooze"]
        clock.advance(hours=1)
        assert (await bot.app.observers.run("vm-idle")).told == []
    async with make_bot() as bot:  # a restart: the state is in the database
        clock.advance(hours=1)
        report = await bot.app.observers.run("vm-idle")
        assert report.told == [] and [f.kind for f in report.held] == ["idle"]
        assert not [s for s in bot.dms_to("alice") if "idle" in s.text]
        # Keep silences it for a week (the click is on the old message: a new process)
        (vm,) = await listing("test:alice")
        from bot.events import Choice

        keep = Choice("Keep", "vms.keep", vm.name)
        assert keep
        clock.advance(hours=30)  # past the 24 h repeat: told again …
        again = await bot.app.observers.run("vm-idle")
        assert [f.kind for f in again.told] == ["idle"]
        await bot.app.background.idle()
        (dm,) = [s for s in bot.dms_to("alice") if "idle" in s.text]
        (kept,) = await bot.click("alice", dm, "Keep")
        assert kept.text.startswith("OK, keeping vm-1")
        clock.advance(days=2)
        assert (await bot.app.observers.run("vm-idle")).told == []  # … but not after Keep
        clock.advance(days=6)
        assert [f.kind for f in (await bot.app.observers.run("vm-idle")).told] == ["idle"]


async def test_release_from_the_idle_alert_asks_then_deletes(
    bot: TestBot, clock: FakeClock
) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
    clock.advance(hours=49)
    await bot.app.observers.run("vm-idle")
    await bot.app.background.idle()
    (dm,) = [s for s in bot.dms_to("alice") if "idle" in s.text]
    (ask,) = await bot.click("alice", dm, "Release")
    assert ask.text.startswith("Delete vm-1")
    (done,) = await bot.click("alice", ask, "Yes")
    assert done.text.startswith("Deleted vm-1")
    assert (await Resource.get(name="vm-1")).state == "released"


async def test_expiry_warnings_15_and_5_days_ahead_then_dry_run_cleanup(
    bot: TestBot, clock: FakeClock
) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 20 days")
    assert (await bot.app.observers.run("vm-expiry")).told == []
    clock.advance(days=5, minutes=1)
    first = await bot.app.observers.run("vm-expiry")
    assert [f.kind for f in first.told] == ["expires-15d"]
    clock.advance(days=1)
    assert (await bot.app.observers.run("vm-expiry")).told == []  # told once
    clock.advance(days=9)
    second = await bot.app.observers.run("vm-expiry")
    assert [f.kind for f in second.told] == ["expires-5d"]
    await bot.app.background.idle()
    warnings = [s for s in bot.dms_to("alice") if "expires on" in s.text]
    assert len(warnings) == 2 and "in 15 days" in warnings[0].text
    assert [c.label for c in warnings[1].choices] == ["Extend", "Release"]

    clock.advance(days=5)
    cleanup = await bot.app.observers.run("vm-cleanup")
    assert [f.kind for f in cleanup.told] == ["would-delete"]
    await bot.app.background.idle()
    assert any("dry run" in t for t in dm_texts(bot, "alice"))
    assert any("dry run" in t for t in dm_texts(bot, "sam"))  # staff see it too
    (vm,) = await listing("test:alice")
    assert vm.state == "running"  # nothing deleted


async def test_extend_from_the_expiry_warning(bot: TestBot, clock: FakeClock) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
    clock.advance(days=6)
    await bot.app.observers.run("vm-expiry")
    await bot.app.background.idle()
    (dm,) = [s for s in bot.dms_to("alice") if "expires on" in s.text]
    (extended,) = await bot.click("alice", dm, "Extend")
    assert extended.text.startswith("Extended vm-1 by 1 week")


async def test_real_cleanup_deletes_and_tells_the_owner(
    make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    async with make_bot(observers={"cleanup": {"delete": True}}) as bot:
        await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 3 days")
        clock.advance(days=3, minutes=1)
        report = await bot.app.observers.run("vm-cleanup")
        assert [f.kind for f in report.told] == ["deleted"]
        await bot.app.background.idle()
        assert any("expired on" in t and "I deleted it" in t for t in dm_texts(bot, "alice"))
        assert (await Resource.get(name="vm-1")).state == "expired"
        assert await listing("test:alice") == []


async def test_quiet_hours_hold_back_new_alerts_until_morning(
    make_bot: Callable[..., Any], clock: FakeClock
) -> None:
    async with make_bot(observers={"quiet_hours": "22:00-07:00"}) as bot:
        await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
        clock.advance(hours=49)  # 10:00 two days later
        clock.advance(hours=13)  # 23:00: quiet
        assert (await bot.app.observers.run("vm-idle")).told == []
        clock.advance(hours=9)  # 08:00
        assert [f.kind for f in (await bot.app.observers.run("vm-idle")).told] == ["idle"]


async def test_staff_summary_counts_idle_vms(bot: TestBot, clock: FakeClock) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 30 days")
    await create_vm(bot, "bob", "spin up 1 debian 12 m1.small for 30 days")
    await bot.app.observers.run("vm-idle")
    clock.advance(days=3)
    await bot.app.observers.run("vm-idle")
    report = await bot.app.observers.run("vm-summary")
    assert [f.notify for f in report.told] == [("test:sam",)]
    assert report.told[0].text.startswith("VM summary: 2 VMs idle > 2 days (vm-1, vm-2)")


async def test_expiry_warning_is_also_emailed_once(
    make_bot: Callable[..., Any], clock: FakeClock, smtp: Any
) -> None:
    email = {"enabled": True, "host": "127.0.0.1", "port": smtp.port, "from": "qm@hpc.example.org"}
    async with make_bot(email=email) as bot:
        await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
        from bot.storage.models import User

        await User.filter(platform="test", platform_id="alice").update(
            email="alice@uni.example.org"
        )
        clock.advance(days=6)
        await bot.app.observers.run("vm-expiry")
        await bot.app.observers.run("vm-expiry")
        await bot.app.background.idle()
        mails = [m for m in smtp.messages if b"VM expiry" in m.content]
        assert [m.rcpt_tos for m in mails] == [["alice@uni.example.org"]]
        assert b"vm-1" in mails[0].content


async def test_snooze_from_the_idle_alert(bot: TestBot, clock: FakeClock) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 10 days")
    clock.advance(hours=49)
    await bot.app.observers.run("vm-idle")
    await bot.app.background.idle()
    (dm,) = [s for s in bot.dms_to("alice") if "idle" in s.text]
    (snoozed,) = await bot.click("alice", dm, "Snooze")
    assert snoozed.text.startswith("Snoozed: I'll look at vm-1 again in 24 hours")
    clock.advance(hours=23)
    assert (await bot.app.observers.run("vm-idle")).told == []
    clock.advance(hours=2)
    assert [f.kind for f in (await bot.app.observers.run("vm-idle")).told] == ["idle"]


async def test_which_vms_are_idle_in_plain_words(bot: TestBot, clock: FakeClock) -> None:
    await create_vm(bot, "alice", "spin up 1 ubuntu 22.04 m1.small for 30 days")
    (none,) = await bot.say("alice", "which of my VMs are idle?")
    assert none.text == "None of your VMs is idle."
    clock.advance(hours=3)
    await bot.app.observers.run("vm-idle")
    (mine,) = await bot.say("alice", "which of my VMs are idle?")
    assert mine.text.startswith("Your idle VMs (1):\n• vm-1:") and "idle since" in mine.text
    (staff,) = await bot.say("sam", "which VMs are idle?")
    assert staff.text.startswith("All idle VMs (1):") and "alice" in staff.text
