"""Issue #13 item 7: kill -9 at the commit points, restart, and nothing is lost or doubled.

The bot runs as a real subprocess (``quartermaster chat --script -``, SQLite in a temporary
QUARTERMASTER_HOME, or PostgreSQL) and kills itself with SIGKILL at a named point
(``QM_FAULT_POINT``, bot/faults.py) right after a commit; the test restarts it and checks the
database and what the restarted bot says.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

FILE_QUOTA = (
    "alice> request quota\nalice> 2TB\nalice> /project/alice\nalice> thesis data\nalice> yes\n"
)


def bot_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "QUARTERMASTER_HOME": str(home),
        "USER": "tester",
        "QUARTERMASTER__ROLES__GRANTS__STAFF": '["shell:sam"]',
        "QUARTERMASTER__RATE_LIMIT__ENABLED": "false",  # transcripts type faster than people
        # no model to train: free text is not needed here, and a killed run must not leave a
        # half-written model behind (a closed port makes every parse answer "not understood")
        "QUARTERMASTER__NLU__BACKEND": "rasa",
        "QUARTERMASTER__NLU__RASA_URL": "http://127.0.0.1:9",
    }
    env.pop("QM_FAULT_POINT", None)
    return env


def bot(
    home: Path,
    script: str,
    *,
    fault: str | None = None,
    url: str | None = None,
    extra: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {**bot_env(home), **(extra or {})}
    if fault:
        env["QM_FAULT_POINT"] = fault
    if url:
        env["QUARTERMASTER__DATABASE__URL"] = url
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--script", "-", "--no-admin"],
        input=script,
        text=True,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def killed(result: subprocess.CompletedProcess[str]) -> bool:
    return result.returncode == -signal.SIGKILL


async def rows(url: str, sql: str) -> list[dict[str, Any]]:
    """What the database holds, read without the bot's code."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")

        def read() -> list[dict[str, Any]]:
            with sqlite3.connect(path) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(sql)]

        return await asyncio.to_thread(read)
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        return [dict(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


@pytest.fixture
def database(db_url: str, tmp_path: Path) -> str:
    """The bot's database: SQLite in the test's home, or a fresh PostgreSQL database."""
    return db_url


async def test_a_crash_right_after_filing_files_once_and_posts_after_restart(
    database: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    first = bot(home, FILE_QUOTA, fault="after-file-commit", url=database)
    assert killed(first), first.stderr
    assert "filed" not in first.stdout  # killed before the answer
    assert [r["id"] for r in await rows(database, "SELECT id FROM qm_request")] == [1]
    pending = await rows(database, "SELECT kind, state FROM qm_outbox ORDER BY id")
    assert pending == [  # the card for #helpdesk-storage, the approver's notice
        {"kind": "copies.publish", "state": "pending"},
        {"kind": "dm", "state": "pending"},
    ]
    audit = await rows(database, "SELECT kind, target FROM qm_audit_event WHERE kind LIKE 'req%'")
    assert audit == [{"kind": "request.filed", "target": "REQ-1"}]

    again = bot(home, "alice> yes\n", url=database)
    assert again.returncode == 0, again.stderr
    out = again.stdout.splitlines()
    assert "bot> REQ-1 was already filed from these answers, so I filed nothing new." in " ".join(
        out
    )
    posted = [line for line in out if line.startswith("bot@helpdesk-storage> *REQ-1")]
    assert len(posted) == 1  # the first request's card, posted by the restarted bot
    assert "  1) Approve" in out
    assert "bot> *REQ-1 · Storage quota* — waiting for approval" in out  # alice's own copy
    assert "  1) Cancel" in out
    assert any(line.startswith("bot->sam> New request REQ-1") for line in out)
    assert [r["id"] for r in await rows(database, "SELECT id FROM qm_request")] == [1]
    assert await rows(database, "SELECT state FROM qm_outbox") == [{"state": "done"}] * 2
    copies = await rows(database, "SELECT channel FROM qm_posted_copy ORDER BY channel")
    assert copies == [{"channel": "dm:alice"}, {"channel": "helpdesk-storage"}]

    third = bot(home, "alice> yes\n", url=database)  # the draft is gone now
    assert "REQ-" not in third.stdout
    assert len(await rows(database, "SELECT id FROM qm_request")) == 1


async def test_a_crash_right_after_an_approval_keeps_its_record_and_sends_its_notices(
    database: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    filed = bot(home, FILE_QUOTA, url=database)
    assert filed.returncode == 0 and "I filed REQ-1" in filed.stdout, filed.stderr

    crash = bot(
        home, "sam> approve REQ-1 looks fine\n", fault="after-transition-commit", url=database
    )
    assert killed(crash), crash.stderr
    assert "approved" not in crash.stdout  # neither the answer nor any notice got out
    assert await rows(database, "SELECT state FROM qm_request") == [{"state": "approved"}]
    audit = await rows(
        database, "SELECT actor, kind, target FROM qm_audit_event WHERE kind = 'request.approve'"
    )
    assert audit == [{"actor": "shell:sam", "kind": "request.approve", "target": "REQ-1"}]
    pending = await rows(database, "SELECT kind FROM qm_outbox WHERE state = 'pending' ORDER BY id")
    assert [r["kind"] for r in pending] == ["copies.refresh", "dm"]

    restart = bot(home, "", url=database)  # nobody says anything: the outbox is sent anyway
    assert restart.returncode == 0, restart.stderr
    out = restart.stdout
    assert (
        "bot->alice> Your request REQ-1 (storage quota, 2 TB, /project/alice) was approved" in out
    )
    updated = [chunk for chunk in out.split("\nbot") if "(updated) *REQ-1" in chunk]
    assert updated and all("approved" in chunk for chunk in updated)
    assert all(") Approve" not in chunk for chunk in updated)  # the card's buttons moved on
    assert any("helpdesk-storage> (updated)" in chunk for chunk in updated)
    left = await rows(database, "SELECT kind FROM qm_outbox WHERE state <> 'done'")
    assert left == []


async def test_a_kill_in_the_middle_of_approvals_loses_no_audit_record_or_notice(
    tmp_path: Path,
) -> None:
    """The issue's random kill: approvals running, SIGKILL from outside after the third answer.
    Every approval that committed has its audit row, and its notices arrive after a restart."""
    home = tmp_path / "home"
    database = f"sqlite://{home / 'quartermaster.sqlite3'}"
    count = 8
    filing = "".join(
        f"alice> request quota {n}TB /project/a{n}\nalice> data {n}\nalice> yes\n"
        for n in range(1, count + 1)
    )
    filed = bot(home, filing)
    assert filed.returncode == 0 and f"I filed REQ-{count}" in filed.stdout, filed.stderr
    script = "".join(f"sam> approve REQ-{n}\n" for n in range(1, count + 1))
    env = {**bot_env(home), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--script", "-", "--no-admin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(script)
    proc.stdin.close()
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("bot> REQ-3 is now approved"):
                proc.send_signal(signal.SIGKILL)  # kill -9, mid-run
                break
    finally:
        proc.kill()
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    before = "".join(seen) + rest
    assert proc.returncode == -signal.SIGKILL and "REQ-3 is now approved" in before

    approved = {
        r["id"] for r in await rows(database, "SELECT id FROM qm_request WHERE state='approved'")
    }
    audited = await rows(
        database, "SELECT target FROM qm_audit_event WHERE kind = 'request.approve'"
    )
    assert 3 <= len(approved) < count
    assert sorted(r["target"] for r in audited) == sorted(f"REQ-{n}" for n in approved)

    after = bot(home, "", url=database).stdout
    for n in approved:  # each approval's notice reached alice (once, or again after the kill)
        notice = f"bot->alice> Your request REQ-{n} (storage quota, {n} TB"
        assert notice in before + after
    assert await rows(database, "SELECT id FROM qm_outbox WHERE state <> 'done'") == []


@pytest.mark.postgres
async def test_two_bot_processes_send_each_pending_notice_once(
    pg_url: str, redis_client: Any, tmp_path: Path
) -> None:
    """Two real bot processes on one PostgreSQL database, with Redis (several-process mode,
    where no claim is released at start): each pending outbox row is sent by exactly one."""
    first = bot(tmp_path / "one", "", url=pg_url)  # creates the tables
    assert first.returncode == 0, first.stderr
    import asyncpg

    conn = await asyncpg.connect(pg_url.replace("postgres://", "postgresql://", 1))
    try:
        for n in range(30):
            await conn.execute(
                "INSERT INTO qm_outbox (kind, key, payload, state, attempts, next_at, last_error,"
                " created_at) VALUES ('dm', $1, $2, 'pending', 0, now(), '', now())",
                f"REQ-{n % 4}",
                json.dumps({"to": "shell:alice", "text": f"notice {n}"}),
            )
    finally:
        await conn.close()
    env = {
        "QUARTERMASTER__DATABASE__URL": pg_url,
        "QUARTERMASTER__REDIS__URL": "redis://127.0.0.1:6379/0",
        "QUARTERMASTER__REDIS__PREFIX": json.dumps(redis_client.qm_prefix),  # values are YAML
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "chat", "--script", "-", "--no-admin"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**bot_env(tmp_path / name), **env},
            cwd=ROOT,
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    sent = [
        line.removeprefix("bot->alice> ")
        for out, _ in outputs
        for line in out.splitlines()
        if line.startswith("bot->alice> notice")
    ]
    assert sorted(sent) == sorted(f"notice {n}" for n in range(30))  # each once, none twice
    for key in range(4):  # one request's notices in the order they were written
        mine = [int(s.split()[1]) for s in sent if int(s.split()[1]) % 4 == key]
        per_process = [
            [int(line.split()[-1]) for line in out.splitlines() if "notice" in line]
            for out, _ in outputs
        ]
        for numbers in per_process:
            ordered = [n for n in numbers if n % 4 == key]
            assert ordered == sorted(ordered)
        assert len(mine) == len(range(key, 30, 4))
    assert await rows(pg_url, "SELECT id FROM qm_outbox WHERE state <> 'done'") == []
