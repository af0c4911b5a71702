"""``on_enter`` actions across crashes: owed by the transition's commit, run at most once, never
lost silently. A real ``quartermaster chat --script -`` subprocess (SQLite or PostgreSQL) with a
skill whose action writes a line to a file per run is killed at a commit point (``QM_FAULT_POINT``)
and restarted."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

from tests.test_crash_windows import bot, killed, rows
from tests.workflow.test_wf_hooks import VM_TYPE

SKILL = """
import os

from bot.actions import ActionResult
from bot.skill import Skill

skill = Skill("hookcrash", "an action that leaves a trace of every run")


async def create_vm(run):
    with open(os.environ["QM_TEST_ACTION_LOG"], "a") as log:
        log.write(run.request.ref + "\\n")
    return ActionResult(True, "vm-7 is ready at 10.0.0.7")


@skill.setup
def setup(scope):
    scope.add_action("create_vm", create_vm)
"""

FILE_VM = "alice> request vm\nalice> testing the new kernel\nalice> yes\n"


class Site:
    """A home, a skills package and a workflow directory for the subprocess bot."""

    def __init__(self, tmp_path: Path, database: str) -> None:
        self.home = tmp_path / "home"
        self.database = database
        self.log = tmp_path / "actions.log"
        packages = tmp_path / "pkgs"
        (packages / "hookcrashpkg").mkdir(parents=True)
        (packages / "hookcrashpkg" / "__init__.py").write_text("")
        (packages / "hookcrashpkg" / "hookcrash.py").write_text(textwrap.dedent(SKILL))
        workflows = tmp_path / "workflows"
        workflows.mkdir()
        (workflows / "vm.yml").write_text(textwrap.dedent(VM_TYPE).replace("ACTIONS", "create_vm"))
        self.extra = {
            "PYTHONPATH": os.pathsep.join([str(packages), os.environ.get("PYTHONPATH", "")]),
            "QUARTERMASTER__SKILLS__PACKAGES": json.dumps(["skills", "hookcrashpkg"]),
            "QUARTERMASTER__WORKFLOWS__DIR": str(workflows),
            "QM_TEST_ACTION_LOG": str(self.log),
        }

    def run(self, script: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
        return bot(self.home, script, fault=fault, url=self.database, extra=self.extra)

    def runs(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []


async def test_an_action_owed_by_a_crashed_approval_runs_once_after_restart(
    db_url: str, tmp_path: Path
) -> None:
    site = Site(tmp_path, db_url)
    filed = site.run(FILE_VM)
    assert filed.returncode == 0 and "I filed REQ-1" in filed.stdout, filed.stderr

    crash = site.run("sam> approve REQ-1\n", fault="after-transition-commit")
    assert killed(crash), crash.stderr
    assert site.runs() == []  # the action had not started
    owed = await rows(db_url, "SELECT state FROM qm_outbox WHERE kind = 'workflow.hook'")
    assert owed == [{"state": "pending"}]

    restart = site.run("sam> status of REQ-1\n")
    assert restart.returncode == 0, restart.stderr
    out = restart.stdout
    assert site.runs() == ["REQ-1"]  # run once, by the restarted bot
    assert "bot->alice> REQ-1: vm-7 is ready at 10.0.0.7" in out
    results = await rows(
        db_url, "SELECT action, comment FROM qm_request_event WHERE action LIKE 'hook%'"
    )
    assert results == [{"action": "hook:create_vm", "comment": "vm-7 is ready at 10.0.0.7"}]

    again = site.run("sam> status of REQ-1\n")  # nothing is owed any more
    assert again.returncode == 0, again.stderr
    assert site.runs() == ["REQ-1"]


async def test_an_action_cut_short_by_a_crash_is_reported_never_run_twice(
    db_url: str, tmp_path: Path
) -> None:
    site = Site(tmp_path, db_url)
    filed = site.run(FILE_VM)
    assert filed.returncode == 0, filed.stderr
    crash = site.run("sam> approve REQ-1\n", fault="after-hook-action")
    assert killed(crash), crash.stderr
    assert site.runs() == ["REQ-1"]  # it ran (a VM may exist) but its result was never recorded
    assert await rows(db_url, "SELECT id FROM qm_request_event WHERE action LIKE 'hook%'") == []

    reported = "bot->sam> REQ-1: action 'create_vm' failed"
    restart = site.run("sam> status of REQ-1\n")
    assert restart.returncode == 0, restart.stderr
    out = restart.stdout
    assert site.runs() == ["REQ-1"]  # not run again
    assert "bot->alice> REQ-1: the step 'create_vm' after it became approved failed: " in out
    assert "It was interrupted (the bot stopped or crashed while it ran)" in out
    assert f"{reported}: It was interrupted" in out
    results = await rows(db_url, "SELECT action FROM qm_request_event WHERE action LIKE 'hook%'")
    assert results == [{"action": "hook:create_vm"}]
    assert await rows(db_url, "SELECT state FROM qm_request") == [{"state": "approved"}]

    again = site.run("sam> status of REQ-1\n")
    assert "bot->alice> REQ-1: the step" not in again.stdout  # reported once
    assert reported not in again.stdout
    assert "hook:create_vm by the bot: It was interrupted" in again.stdout  # in the history
    assert site.runs() == ["REQ-1"]
