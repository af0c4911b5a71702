"""The durable outbox (bot/deliveries.py) on SQLite and PostgreSQL: rows commit with the change or
not at all, each is sent by one of several processes, one key's rows in order, claims of a dead
process are taken over, failures back off and give up, and ``quartermaster outbox`` lists and
retries them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.audit import AuditLog
from bot.background import BackgroundWork
from bot.deliveries import Deliveries
from bot.storage.db import close_database, open_database
from bot.storage.models import AuditEvent, Delivery

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[str]:
    await open_database(db_url)
    yield db_url
    await close_database()


def outbox(**kwargs: Any) -> Deliveries:
    return Deliveries(BackgroundWork(), **kwargs)


async def test_rows_commit_with_the_change_or_not_at_all(db: str) -> None:
    box, audit = outbox(), AuditLog()
    audit.enabled = True
    async with box.recording():
        await audit.record_now("shell:sam", "request.approve", "REQ-1")
        await box.add("dm", {"to": "shell:alice", "text": "approved"}, key="REQ-1")
    with pytest.raises(RuntimeError):
        async with box.recording():
            await audit.record_now("shell:sam", "request.deny", "REQ-2")
            await box.add("dm", {"to": "shell:bob", "text": "denied"}, key="REQ-2")
            raise RuntimeError("the change failed half-way")
    assert [(r.kind, r.key, r.state) for r in await Delivery.all()] == [("dm", "REQ-1", "pending")]
    assert [a.kind for a in await AuditEvent.all()] == ["request.approve"]
    await box.background.idle()  # the pass kicked after the commit
    assert (await Delivery.get()).state == "pending"  # no handler for "dm" here: it waits


async def test_two_processes_send_each_row_once_and_one_keys_rows_in_order(db: str) -> None:
    sent: list[tuple[str, int]] = []

    async def handler(payload: dict[str, Any]) -> None:
        await asyncio.sleep(0.001)
        sent.append((payload["key"], payload["n"]))

    first, second = outbox(), outbox()
    for box in (first, second):
        box.register("note", handler)
    for n in range(12):
        for key in ("REQ-1", "REQ-2", "REQ-3"):
            await Delivery.create(
                kind="note", key=key, payload={"key": key, "n": n}, next_at=datetime.now(UTC)
            )
    done = await asyncio.gather(first.deliver_due(), second.deliver_due())
    assert sum(done) == 36 and len(sent) == 36 and len(set(sent)) == 36  # each once
    for key in ("REQ-1", "REQ-2", "REQ-3"):
        assert [n for k, n in sent if k == key] == list(range(12))  # in the order written
    assert await Delivery.filter(state="done").count() == 36


async def test_a_dead_processs_claim_is_taken_over(db: str) -> None:
    got: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        got.append(payload["n"])

    now = datetime.now(UTC)
    await Delivery.create(
        kind="note",
        key="REQ-1",
        payload={"n": 1},
        next_at=now,
        claimed_by="a-process-that-died",
        claimed_until=now + timedelta(seconds=60),
    )
    await Delivery.create(kind="note", key="REQ-1", payload={"n": 2}, next_at=now)
    box = outbox(poll=0.05)
    box.register("note", handler)
    assert await box.deliver_due() == 0  # the lease holds, and with it the rest of REQ-1
    await Delivery.filter(claimed_by="a-process-that-died").update(
        claimed_until=now - timedelta(seconds=1)
    )
    assert await box.deliver_due() == 2 and got == [1, 2]  # the lease ran out: taken over

    await Delivery.create(
        kind="note",
        key="REQ-2",
        payload={"n": 3},
        next_at=now,
        claimed_by="the-last-run",
        claimed_until=now + timedelta(seconds=60),
    )
    await box.start(shared=False)  # alone on the database: every claim left is a dead run's
    try:
        async with asyncio.timeout(5):
            while 3 not in got:
                await asyncio.sleep(0.02)
    finally:
        await box.stop()


async def test_a_failing_row_backs_off_and_gives_up(db: str) -> None:
    calls = 0

    async def handler(payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("secret-token-in-the-message")

    box = outbox(base_delay=0.0, max_attempts=3)
    box.register("note", handler)
    await box.add("note", {}, key="REQ-9")
    await box.deliver_due()
    row = await Delivery.get()
    assert (calls, row.state, row.attempts, row.last_error) == (3, "failed", 3, "ConnectionError")
    assert box.stats.outbox_retried == 2 and box.stats.outbox_failed == 1

    slow = outbox(base_delay=60.0)
    slow.register("note", handler)
    await slow.add("note", {}, key="REQ-10")
    await slow.deliver_due()
    later = await Delivery.get(key="REQ-10")
    assert later.state == "pending" and later.attempts == 1
    assert later.next_at > datetime.now(UTC) + timedelta(seconds=50)  # backed off


def qm(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUARTERMASTER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "outbox", *args],
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_the_outbox_command_lists_and_retries_rows(tmp_path: Path) -> None:
    home = tmp_path / "home"
    empty = qm(home, "list")
    assert empty.returncode == 0 and empty.stdout == ""
    assert "No pending or failed rows" in empty.stderr
    with sqlite3.connect(home / "quartermaster.sqlite3") as conn:
        for state in ("failed", "done", "pending"):
            conn.execute(
                "INSERT INTO qm_outbox (kind, key, payload, state, attempts, next_at, "
                "last_error, created_at) VALUES ('dm', 'REQ-1', ?, ?, 8, ?, 'OSError', ?)",
                ('{"to":"slack:U1","text":"private words"}', state, "2026-01-01", "2026-01-01"),
            )
    listed = qm(home, "list").stdout.splitlines()
    assert [line.split("  ")[:5] for line in listed] == [
        ["1", "failed", "dm", "REQ-1", "to slack:U1"],
        ["3", "pending", "dm", "REQ-1", "to slack:U1"],
    ]
    assert "private words" not in "".join(listed)
    assert qm(home, "retry").returncode == 2
    again = qm(home, "retry", "--failed")
    assert again.returncode == 0 and again.stdout.startswith("1 row(s) will be sent again")
    with sqlite3.connect(home / "quartermaster.sqlite3") as conn:
        rows = conn.execute("SELECT state, attempts FROM qm_outbox ORDER BY id").fetchall()
    assert rows == [("pending", 0), ("done", 8), ("pending", 8)]
