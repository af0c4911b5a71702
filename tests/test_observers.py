"""Observers: warn once per (subject, kind), again after the repeat interval, never while
snoozed, not again after a restart, forget subjects that went away, survive a failing
neighbour, and run each scheduled firing in one process only. Time moves on a FakeClock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.events import Choice
from bot.observers import Finding
from bot.storage.models import AuditEvent, Delivery, ObserverState
from bot.testing import FakeClock, TestBot

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


class Expiry:
    """Reports every subject in ``owners`` as expiring, to its owner."""

    name = "expiry"
    every = timedelta(hours=1)

    def __init__(self, **owners: str) -> None:
        self.owners = {f"vm:{k}": v for k, v in owners.items()}
        self.checked: list[datetime] = []

    async def check(self, app: object, now: datetime) -> list[Finding]:
        self.checked.append(now)
        return [
            Finding(
                subject,
                "expires-15d",
                f"{subject} expires in 15 days",
                (f"test:{owner}",),
                (Choice("Extend", "vm.extend", subject), Choice("Snooze", "snooze")),
            )
            for subject, owner in self.owners.items()
        ]


class Broken:
    name = "broken"
    every = timedelta(hours=1)

    async def check(self, app: object, now: datetime) -> list[Finding]:
        raise RuntimeError("backend exploded")


def warnings(bot: TestBot, user: str) -> list[str]:
    return [s.text for s in bot.dms_to(user) if "expires" in s.text]


async def test_warns_once_then_again_after_the_repeat_interval(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(START)
    async with TestBot.create(
        tmp_path, database_url=db_url, clock=clock, overrides={"observers.repeat_after_hours": 24}
    ) as bot:
        bot.app.observers.add(Expiry(**{"12": "alice"}), owner="test")
        report = await bot.app.observers.run("expiry")
        await bot.app.background.idle()
        assert [f.subject for f in report.told] == ["vm:12"]
        assert warnings(bot, "alice") == ["vm:12 expires in 15 days"]
        assert bot.dms_to("alice")[0].labels == ["Extend", "Snooze"]
        clock.advance(hours=23)
        report = await bot.app.observers.run("expiry")
        await bot.app.background.idle()
        assert not report.told and len(report.held) == 1
        assert len(warnings(bot, "alice")) == 1
        clock.advance(hours=1)
        await bot.app.observers.run("expiry")
        await bot.app.background.idle()
        assert len(warnings(bot, "alice")) == 2
        row = await ObserverState.get(observer="expiry", subject="vm:12")
        assert row.last_alert == "expires-15d" and row.last_alert_at == START + timedelta(hours=24)


async def test_a_snooze_is_honoured_until_it_runs_out(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(START)
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        bot.app.observers.add(Expiry(**{"3": "bob"}), owner="test")
        await bot.app.observers.snooze("expiry", "vm:3", START + timedelta(days=2))
        for _ in range(3):
            await bot.app.observers.run("expiry")
            clock.advance(hours=12)
        await bot.app.background.idle()
        assert warnings(bot, "bob") == []  # 0 h, 12 h, 24 h: snoozed
        clock.set(START + timedelta(days=2))
        await bot.app.observers.run("expiry")
        await bot.app.background.idle()
        assert warnings(bot, "bob") == ["vm:3 expires in 15 days"]
        assert (await ObserverState.get(observer="expiry", subject="vm:3")).snooze_until is None


async def test_a_restart_does_not_warn_again(tmp_path: Path, db_url: str) -> None:
    clock = FakeClock(START)
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        bot.app.observers.add(Expiry(**{"5": "carol"}), owner="test")
        await bot.app.observers.run("expiry")
        await bot.app.background.idle()
        assert len(warnings(bot, "carol")) == 1
    clock.advance(hours=2)
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        bot.app.observers.add(Expiry(**{"5": "carol"}), owner="test")
        await bot.app.observers.run_due()
        await bot.app.background.idle()
        assert warnings(bot, "carol") == []


async def test_subjects_that_went_away_are_forgotten(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with TestBot.create(tmp_path, clock=clock) as bot:
        observer = Expiry(**{"1": "dave", "2": "dave"})
        bot.app.observers.add(observer, owner="test")
        await bot.app.observers.run("expiry")
        del observer.owners["vm:1"]  # released
        clock.advance(hours=1)
        await bot.app.observers.run("expiry")
        assert await ObserverState.filter(observer="expiry").values_list("subject", flat=True) == [
            "vm:2"
        ]
        observer.owners["vm:1"] = "test:dave"  # a new vm with the same name
        clock.advance(hours=1)
        report = await bot.app.observers.run("expiry")
        assert [f.subject for f in report.told] == ["vm:1"]


async def test_a_failing_observer_is_audited_and_does_not_stop_another(tmp_path: Path) -> None:
    clock = FakeClock(START)
    async with TestBot.create(tmp_path, clock=clock) as bot:
        bot.app.observers.add(Broken(), owner="test")
        bot.app.observers.add(Expiry(**{"9": "erin"}), owner="test")
        reports = await bot.app.observers.run_due()
        await bot.app.background.idle()
        assert reports["broken"].error == "RuntimeError"
        assert len(reports["expiry"].told) == 1 and warnings(bot, "erin")
        assert bot.app.stats.observer_errors == 1
        await bot.app.audit.flush()
        assert (
            await AuditEvent.filter(kind="observer.error", target="broken", outcome="error").count()
            == 1
        )
        assert await bot.app.observers.run_due() == {}  # nothing due within the hour
        clock.advance(hours=1)
        assert set(await bot.app.observers.run_due()) == {"broken", "expiry"}


async def test_observers_are_scheduled_survive_a_skill_reload_and_leave_with_their_owner(
    tmp_path: Path,
) -> None:
    async with TestBot.create(tmp_path) as bot:
        bot.app.observers.add(Expiry(), owner="vmskill")
        scheduler = bot.app.scheduler
        assert scheduler is not None and scheduler.has_job("observer:expiry")
        await bot.grant("root", "admin")
        await bot.say("root", "reload skills")  # Scheduler.sync runs
        assert scheduler.has_job("observer:expiry")
        assert bot.app.observers.remove_owner("vmskill") == ["expiry"]
        assert not scheduler.has_job("observer:expiry") and bot.app.observers.names == []


async def test_with_redis_each_firing_runs_in_one_process_only(
    tmp_path: Path, redis_client: object
) -> None:
    clock = FakeClock(START)
    overrides = {"redis.url": "redis://127.0.0.1:6379/0", "redis.prefix": redis_client.qm_prefix}  # type: ignore[attr-defined]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one_obs, two_obs = Expiry(), Expiry()
    async with (
        TestBot.create(tmp_path / "a", clock=clock, overrides=overrides) as one,
        TestBot.create(tmp_path / "b", clock=clock, overrides=overrides) as two,
    ):
        one.app.observers.add(one_obs, owner="test")
        two.app.observers.add(two_obs, owner="test")
        await asyncio.gather(one.app.observers.fire("expiry"), two.app.observers.fire("expiry"))
        assert len(one_obs.checked) + len(two_obs.checked) == 1
        clock.advance(hours=1)  # the next slot
        await asyncio.gather(one.app.observers.fire("expiry"), two.app.observers.fire("expiry"))
        assert len(one_obs.checked) + len(two_obs.checked) == 2


class Scripted:
    """Reports exactly the findings it is given for the next run."""

    name = "scripted"
    every = timedelta(hours=1)

    def __init__(self) -> None:
        self.next: list[Finding] = []

    async def check(self, app: object, now: datetime) -> list[Finding]:
        return list(self.next)


async def test_a_held_finding_is_told_when_the_hold_ends_and_keeps_its_subjects_state(
    tmp_path: Path, db_url: str
) -> None:
    """Quiet hours hold findings back: a new kind for a subject already told (the 5-day warning
    after the 15-day one) is told after them, not recorded as told during them, and a snooze
    set meanwhile survives them."""
    clock = FakeClock(START)
    fifteen = Finding("vm:7", "expires-15d", "vm:7 expires in 15 days", ("test:fay",))
    five = Finding("vm:7", "expires-5d", "vm:7 expires in 5 days", ("test:fay",))
    idle = Finding("vm:8", "idle", "vm:8 is idle", ("test:fay",))
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        observer = Scripted()
        bot.app.observers.add(observer, owner="test")
        observer.next = [fifteen, idle]
        assert len((await bot.app.observers.run("scripted")).told) == 2
        await bot.app.observers.snooze("scripted", "vm:8", START + timedelta(days=20))
        clock.advance(days=10)
        observer.next = [replace(five, hold=True), replace(idle, hold=True)]
        report = await bot.app.observers.run("scripted")
        assert report.told == [] and len(report.held) == 2
        state = await ObserverState.get(observer="scripted", subject="vm:8")
        assert state.snooze_until == START + timedelta(days=20)  # not forgotten while held
        clock.advance(hours=9)
        observer.next = [five]
        assert [f.kind for f in (await bot.app.observers.run("scripted")).told] == ["expires-5d"]
        await bot.app.background.idle()
        assert [m.text for m in bot.dms_to("fay")] == [
            "vm:7 expires in 15 days",
            "vm:8 is idle",
            "vm:7 expires in 5 days",
        ]


async def test_what_is_told_is_stored_with_its_buttons_even_where_nothing_can_be_sent(
    tmp_path: Path, db_url: str
) -> None:
    """A process that cannot send (the command line's headless bot) leaves the DMs, with their
    buttons, to the next process that can: recorded as told means sent, eventually."""
    clock = FakeClock(START)
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        bot.app.deliveries.sending = False
        bot.app.observers.add(Expiry(**{"4": "gus"}), owner="test")
        assert len((await bot.app.observers.run("expiry")).told) == 1
        await bot.app.background.idle()
        assert bot.dms_to("gus") == []
        assert await Delivery.filter(state="pending", kind="dm").count() == 1
        await bot.app.audit.flush()
        assert await AuditEvent.filter(kind="observer.expires-15d", target="vm:4").count() == 1
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        bot.app.observers.add(Expiry(**{"4": "gus"}), owner="test")
        await bot.app.deliveries.deliver_due()
        assert [(m.text, m.labels) for m in bot.dms_to("gus")] == [
            ("vm:4 expires in 15 days", ["Extend", "Snooze"])
        ]
        assert await bot.app.observers.run_due() != {} and bot.dms_to("gus")[1:] == []
