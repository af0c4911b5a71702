"""Who may do what with requests: checks declared on the handlers, role groups from the
configuration, help in dry-run, and per-request refusals as ``PermissionDenied`` (private)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.errors import ConfigError
from bot.storage.models import AuditEvent, Request
from bot.testing.harness import TestBot

HANDLERS = "needs one of the roles helpdesk, staff, management or operator"


async def test_help_lists_stats_and_assign_only_to_those_who_may_use_them(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        (plain,) = await bot.say("alice", "help")
        assert "`status of REQ-12`" in plain.text
        assert "request stats" not in plain.text and "assign REQ-12" not in plain.text
        await bot.grant("hank", "helpdesk")
        (desk,) = await bot.say("hank", "help")
        assert "`request stats [last 30 days]`" in desk.text and "assign REQ-12" in desk.text


async def test_a_researcher_asking_for_stats_is_refused_privately_and_audited(
    tmp_path: Path,
) -> None:
    async with TestBot.create(tmp_path) as bot:
        out = await bot.say("alice", "request stats", channel="general")
        assert len(out) == 1 and out[0].dm_to == "alice"  # not in the channel
        assert out[0].text.startswith(f"Sorry, `request stats [last 30 days]` {HANDLERS}")
        await bot.app.audit.flush()
        denied = await AuditEvent.filter(kind="denied").values_list("actor", "target")
        assert denied == [("test:alice", "requests.stats")]
        await bot.grant("mary", "management")
        out = await bot.say("mary", "request stats")
        assert "Requests filed" in out[-1].text


async def test_a_group_changed_in_the_configuration_changes_who_may(tmp_path: Path) -> None:
    bot = TestBot.create(tmp_path, overrides={"roles.groups": {"request_handlers": ["management"]}})
    async with bot:
        await bot.grant("hank", "helpdesk")
        await bot.grant("mary", "management")
        out = await bot.say("hank", "request stats")
        assert "needs the management role" in out[-1].text
        out = await bot.say("mary", "request stats")
        assert "Requests filed" in out[-1].text
        (desk,) = await bot.say("hank", "help")
        assert "request stats" not in desk.text
        await bot.grant("root", "admin")  # admins pass every check
        out = await bot.say("root", "request stats")
        assert "Requests filed" in out[-1].text


def test_a_group_naming_an_unknown_role_fails_validation_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "qm.yml"
    cfg.write_text("roles:\n  groups:\n    request_handlers: [helpdesk, wizard]\n")
    with pytest.raises(ConfigError, match=r"roles\.groups: .*'request_handlers'.*'wizard'"):
        load_settings(cfg, environ={})


def test_the_shipped_file_spells_out_the_default_groups() -> None:
    shipped = load_settings(Path(__file__).parents[2] / "config" / "quartermaster.yml")
    assert shipped.roles.groups == Settings.model_validate({}).roles.groups


async def test_filing_for_someone_else_is_refused_privately_for_a_researcher(
    tmp_path: Path,
) -> None:
    async with TestBot.create(tmp_path) as bot:
        out = await bot.say("alice", "request quota for @bob", channel="general")
        assert len(out) == 1 and out[0].dm_to == "alice"
        assert out[0].text == "Filing a request for someone else needs the helpdesk role."
        await bot.grant("hank", "helpdesk")
        out = await bot.say("hank", "request quota for @bob")
        assert "for bob" in out[0].text


async def test_commenting_on_someone_elses_request_is_permission_denied(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.say("alice", "request quota 2TB /scratch/a")
        await bot.say("alice", "for a simulation")
        await bot.say("alice", "yes")
        req = await Request.get()
        out = await bot.say("bob", f"comment {req.ref} looks fine", channel="general")
        assert len(out) == 1 and out[0].dm_to == "bob"
        assert out[0].text.startswith(
            f"Commenting on {req.ref} is for its requester; anyone "
            "else needs one of the roles helpdesk or staff"
        )
        out = await bot.say("bob", f"edit {req.ref} size=3TB", channel="general")
        assert out[-1].dm_to == "bob" and "Only the requester or staff can edit" in out[-1].text
