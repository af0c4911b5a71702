"""``on_enter`` hooks: an action registered by a skill runs once after approval, in the
background; its result is in the history and posted back; a failing or missing action is
recorded as failed, told to the requester and staff, and the approval stands."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.storage.models import Request, RequestEvent
from bot.testing.harness import TestBot
from bot.workflow.loader import load_types

VM_TYPE = """
    title: Virtual machine
    aliases: [vm]
    channel: helpdesk
    fields:
      purpose:
        type: text
        question: What is the VM for?
    states:
      submitted: {label: waiting for approval}
      approved: {label: approved}
      denied: {terminal: true}
      completed: {terminal: true}
    transitions:
      approve: {from: submitted, to: approved, past: approved, allow: [{roles: [staff]}]}
      deny: {from: submitted, to: denied, past: denied, allow: [{roles: [staff]}]}
    on_enter:
      approved: [ACTIONS]
"""

VM_SKILL = """
from bot.actions import ActionResult
from bot.skill import Skill

skill = Skill("vmtest", "creates pretend VMs")
calls = []


async def create_vm(run):
    calls.append((run.request.ref, run.state, run.actor.key if run.actor else None))
    await run.progress("creating")
    await run.progress("booting", "vm-7")
    return ActionResult(True, "vm-7 is ready at 10.0.0.7", {"vm": "vm-7"})


async def broken(run):
    raise RuntimeError("libvirt said no; password=hunter2")


@skill.setup
def setup(scope):
    scope.add_action("create_vm", create_vm)
    scope.add_action("broken", broken)
"""


def workflows(tmp_path: Path, actions: str) -> Path:
    directory = tmp_path / "workflows"
    directory.mkdir(exist_ok=True)
    (directory / "vm.yml").write_text(textwrap.dedent(VM_TYPE).replace("ACTIONS", actions))
    return directory


def make(tmp_path: Path, skill_pkg: object, actions: str) -> TestBot:
    skill_pkg.write("vmtest", VM_SKILL)  # type: ignore[attr-defined]
    return TestBot.create(
        tmp_path,
        overrides={
            "workflows.dir": str(workflows(tmp_path, actions)),
            "skills.packages": ["skills", skill_pkg.name],
        },
    )  # type: ignore[attr-defined]


async def file_vm(bot: TestBot) -> Request:
    await bot.say("alice", "request vm")
    await bot.say("alice", "testing the new kernel")
    await bot.say("alice", "yes")
    req = await Request.filter().order_by("-id").first()
    assert req is not None
    return req


async def test_approval_runs_the_action_once_records_and_posts_its_result(
    tmp_path: Path, skill_pkg: object
) -> None:
    async with make(tmp_path, skill_pkg, "create_vm") as bot:
        await bot.grant("sam", "staff")
        req = await file_vm(bot)
        out = await bot.say("sam", f"approve {req.ref}")
        assert out[0].text.startswith(f"{req.ref} is now approved")  # answered first
        calls = sys.modules[f"{skill_pkg.name}.vmtest"].calls  # type: ignore[attr-defined]
        assert calls == [(req.ref, "approved", "test:sam")]
        hook = await RequestEvent.get(request_id=req.id, action="hook:create_vm")
        assert hook.comment == "vm-7 is ready at 10.0.0.7"
        assert hook.data == {"ok": True, "vm": "vm-7"}
        status = [s for s in bot.dms_to("alice") if s.text.startswith(f"{req.ref}: create vm")]
        assert len(status) == 1  # one message, edited as it went
        assert status[0].edits and status[0].text.endswith("vm-7 is ready at 10.0.0.7")
        assert "✔ booting: vm-7" in status[0].text
        history = await bot.say("alice", f"status of {req.ref}")
        assert "hook:create_vm by the bot: vm-7 is ready at 10.0.0.7" in history[-1].text
        card = next(s for s in bot.sent if s.channel == "helpdesk")
        assert "approved by sam" in card.text  # the card shows the move, not the hook
        assert bot.app.stats.actions_run == 1 and bot.app.stats.actions_failed == 0


async def test_a_failing_action_is_recorded_as_failed_and_the_approval_stands(
    tmp_path: Path, skill_pkg: object
) -> None:
    async with make(tmp_path, skill_pkg, "broken") as bot:
        await bot.grant("sam", "staff")
        await bot.grant("stella", "staff")
        req = await file_vm(bot)
        await bot.say("sam", f"approve {req.ref}")
        assert (await Request.get(id=req.id)).state == "approved"
        hook = await RequestEvent.get(request_id=req.id, action="hook:broken")
        assert hook.data["ok"] is False and "RuntimeError" in hook.comment
        told = [s.text for s in bot.dms_to("alice") if "failed" in s.text]
        assert len(told) == 1 and "stays approved" in told[0] and "hunter2" not in told[0]
        assert [s for s in bot.dms_to("stella") if "action 'broken' failed" in s.text]
        assert bot.app.stats.actions_failed == 1


async def test_an_unknown_action_fails_at_run_time_with_a_clear_record(
    tmp_path: Path, skill_pkg: object, caplog: pytest.LogCaptureFixture
) -> None:
    async with make(tmp_path, skill_pkg, "launch_rocket") as bot:
        await bot.grant("sam", "staff")
        req = await file_vm(bot)
        assert "on_enter.approved: launch_rocket is not a registered action" in caplog.text
        await bot.say("sam", f"approve {req.ref}")
        hook = await RequestEvent.get(request_id=req.id, action="hook:launch_rocket")
        assert "No action named 'launch_rocket' is registered" in hook.comment
        assert (await Request.get(id=req.id)).state == "approved"


def test_on_enter_must_name_states_of_the_type(tmp_path: Path) -> None:
    directory = workflows(tmp_path, "create_vm")
    text = (
        (directory / "vm.yml")
        .read_text()
        .replace("  approved: [create_vm]", "  aproved: [create_vm]")
    )
    (directory / "vm.yml").write_text(text)
    with pytest.raises(ConfigError, match=r"vm\.yml: on_enter\.aproved: no state 'aproved'"):
        load_types(directory)


async def test_an_owed_action_sent_again_after_it_ran_is_not_run_again(
    tmp_path: Path, skill_pkg: object
) -> None:
    """At least once delivery, at most once action: a ``workflow.hook`` row sent a second time
    (its process died after the result was recorded, before the row was marked sent) finds the
    action's marker done and does nothing."""
    from bot.storage.models import Delivery

    async with make(tmp_path, skill_pkg, "create_vm") as bot:
        await bot.grant("sam", "staff")
        req = await file_vm(bot)
        await bot.say("sam", f"approve {req.ref}")
        await bot.app.background.idle()
        calls = sys.modules[f"{skill_pkg.name}.vmtest"].calls  # type: ignore[attr-defined]
        assert len(calls) == 1
        row = await Delivery.get(kind="workflow.hook")
        assert row.state == "done"
        await Delivery.filter(id=row.id).update(state="pending", attempts=0)
        assert await bot.app.deliveries.deliver_due() == 1
        await bot.app.background.idle()
        assert len(calls) == 1
        assert await RequestEvent.filter(request_id=req.id, action="hook:create_vm").count() == 1


async def test_an_interrupted_action_is_reported_once_whoever_finds_it(
    tmp_path: Path, skill_pkg: object
) -> None:
    """A marker left "started" by a dead process is found both by the sweep and by its row sent
    again: one report between them, and the action is never run again."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from bot.storage.models import KeyValue
    from bot.workflow.engine import service
    from bot.workflow.hooks import MARKERS, start_hook, sweep_interrupted

    async with make(tmp_path, skill_pkg, "create_vm") as bot:
        await bot.grant("sam", "staff")
        req = await file_vm(bot)
        step = {"request": req.id, "name": "create_vm", "step": "approved"}
        await KeyValue.create(
            namespace=MARKERS, key="h1", value={"v": {"state": "started", **step}}
        )
        wf = service(bot.app)
        later = datetime.now(UTC) + timedelta(minutes=1)
        payload = {"hook": "h1", "request": req.id, "name": "create_vm", "state": "approved"}
        await asyncio.gather(sweep_interrupted(wf, started_before=later), start_hook(wf, payload))
        await bot.app.background.idle()
        hooks = await RequestEvent.filter(request_id=req.id, action="hook:create_vm")
        assert len(hooks) == 1 and hooks[0].comment.startswith("It was interrupted")
        assert sys.modules[f"{skill_pkg.name}.vmtest"].calls == []  # type: ignore[attr-defined]
        told = [s.text for s in bot.dms_to("sam") if "action 'create_vm' failed" in s.text]
        assert len(told) == 1
        assert await sweep_interrupted(wf, started_before=later) == 0
