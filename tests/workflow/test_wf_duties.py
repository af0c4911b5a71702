"""Separation of duties and edits after approval (issue #12 item 2), through the message path,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage.models import AuditEvent, Request, RequestEvent
from bot.testing import TestBot


async def file_quota(bot: TestBot, user: str, size: str, path: str = "/project/astro") -> Request:
    await bot.say(user, "request quota")
    await bot.say(user, size)
    await bot.say(user, path)
    await bot.say(user, "for the new survey data")
    await bot.say(user, "yes")
    return await Request.filter().order_by("-id").first()  # type: ignore[return-value]


@pytest.fixture
async def bot(tmp_path: Path, db_url: str):
    async with TestBot.create(tmp_path, database_url=db_url) as bot:
        for user, role in (
            ("sam", "staff"),
            ("olga", "operator"),
            ("hana", "helpdesk"),
            ("root", "admin"),
            ("mary", "management"),
        ):
            await bot.grant(user, role)
        yield bot


async def test_nobody_approves_or_completes_their_own_request(bot: TestBot) -> None:
    req = await file_quota(bot, "sam", "4TB")
    out = await bot.say("sam", f"approve {req.ref}")
    assert "it is for you, so someone else has to approve it (separation of duties)" in out[0].text
    assert (await Request.get(id=req.id)).state == "submitted"
    out = await bot.say("mary", f"approve {req.ref}")
    assert "is now approved" in out[0].text
    out = await bot.say("sam", f"complete {req.ref}")
    assert "someone else has to complete it" in out[0].text
    out = await bot.say("olga", f"complete {req.ref}")
    assert "is now done" in out[0].text
    await bot.app.audit.flush()
    refused = await AuditEvent.filter(kind="request.refused", actor="test:sam").count()
    assert refused == 2


async def test_whoever_filed_it_for_someone_else_cannot_approve_it_either(bot: TestBot) -> None:
    await bot.grant("hana", "staff")
    await bot.say("hana", "request quota for @alice")
    for answer in ("2TB", "/project/alice", "thesis data", "yes"):
        await bot.say("hana", answer)
    req = await Request.filter().order_by("-id").first()
    assert req is not None
    await req.fetch_related("requester")
    assert req.requester.platform_id == "alice"
    out = await bot.say("hana", f"approve {req.ref}")
    assert "you filed it, so someone else has to approve it" in out[0].text
    # the requester may still withdraw it: a requester rule, not a role
    out = await bot.say("alice", f"cancel {req.ref}")
    assert "is now cancelled" in out[0].text


async def test_an_admin_override_is_explicit_and_audited(bot: TestBot) -> None:
    await bot.grant("root", "staff")
    req = await file_quota(bot, "root", "1TB")
    out = await bot.say("root", f"approve {req.ref}")
    assert "separation of duties" in out[0].text
    out = await bot.say("root", f"override approve {req.ref} PI away, disk full tonight")
    assert "is now approved" in out[0].text
    event = await RequestEvent.get(request_id=req.id, action="approve")
    assert event.comment == "[override] PI away, disk full tonight"
    await bot.app.audit.flush()
    audit = await AuditEvent.get(kind="request.override")
    assert audit.detail["reason"] == "PI away, disk full tonight"
    out = await bot.say("sam", f"override approve {req.ref} because")
    assert "needs the admin role" in out[0].text


async def test_an_edit_after_approval_goes_back_for_the_approvals_its_values_need(
    bot: TestBot,
) -> None:
    req = await file_quota(bot, "alice", "2TB")
    await bot.say("sam", f"approve {req.ref}")
    out = await bot.say("alice", f"edit {req.ref} size=100TB")
    assert "goes back for approval: it is now waiting for approval" in out[0].text
    row = await Request.get(id=req.id)
    assert row.state == "submitted"
    # the approvers of the new values (management above 5 TB) see what changed
    told = [s.text for s in bot.dms_to("mary") if req.ref in s.text and "again" in s.text]
    assert told and "Size: 2 TB → 100 TB" in told[-1]
    # the operator can no longer complete it at 100 TB, and staff can no longer approve it
    out = await bot.say("olga", f"complete {req.ref}")
    assert "can't be completed now" in out[0].text
    out = await bot.say("sam", f"approve {req.ref}")
    assert (
        "quotas above 10 TB need a purchase reference" in out[0].text
        or "larger ones need management" in out[0].text
    )
    edited = await RequestEvent.get(request_id=req.id, action="edited")
    assert (edited.from_state, edited.to_state) == ("approved", "submitted")
    assert edited.comment == "Size: 2 TB → 100 TB"


async def test_a_researcher_sees_only_requests_that_concern_them(bot: TestBot) -> None:
    """Item 3: Bob cannot read Alice's card or history; Alice, the approver it waits on, and the
    helpdesk can, in full."""
    req = await file_quota(bot, "alice", "2TB")
    for command in (f"status of {req.ref}", f"history of {req.ref}", f"{req.ref}"):
        out = await bot.say("bob", command)
        assert [s.text for s in out] == [
            f"You can't see {req.ref}: a request is shown to the people it is for or by, "
            "whoever it waits on, and the helpdesk."
        ], command
    for user in ("alice", "sam", "hana"):
        out = await bot.say(user, f"status of {req.ref}")
        assert "/project/astro" in out[0].text and "History:" in out[0].text, user


async def test_history_shows_who_did_what_and_when_with_comments(bot: TestBot) -> None:
    req = await file_quota(bot, "alice", "2TB")
    await bot.say("sam", f"approve {req.ref}")
    await bot.say("alice", f"comment {req.ref} thanks, please hurry")
    out = await bot.say("alice", f"history of {req.ref}")
    text = out[0].text
    assert text.startswith(f"History of {req.ref} (storage quota, 2 TB")
    lines = text.splitlines()[1:]
    assert [line.strip().split(" ", 2)[2] for line in lines] == [
        "submitted by alice",
        "approve by sam",
        "commented by alice: thanks, please hurry",
    ]


async def test_wording_the_requester_and_the_card_get(tmp_path: Path, db_url: str) -> None:
    """Item 12: a full stop after a comment, and the bot's own reminders are not the card's
    "last" line ("reminded by someone")."""
    from bot.testing import FakeClock
    from bot.workflow.engine import service
    from bot.workflow.reminders import remind_stalled

    clock = FakeClock(datetime.now(UTC))
    async with TestBot.create(tmp_path, database_url=db_url, clock=clock) as bot:
        await bot.grant("sam", "staff")
        req = await file_quota(bot, "alice", "2TB")
        card = next(s for s in bot.sent if s.channel == "helpdesk-storage")
        clock.advance(days=3)
        assert await remind_stalled(bot.app, service(bot.app)) == 1
        await bot.app.background.idle()  # the reminder's DM to sam is sent
        (status,) = await bot.say("alice", f"status of {req.ref}")
        card_part = status.text.split("History:")[0]
        assert "reminded" not in card_part and "someone" not in card_part
        await bot.say("sam", f"approve {req.ref} looks fine")
        told = [s.text for s in bot.dms_to("alice") if "was approved by sam" in s.text]
        assert told and "approved by sam: looks fine. It is now" in told[-1]
        assert "approved by sam: looks fine" in card.text


async def test_approvers_hear_of_a_new_request_at_once(bot: TestBot) -> None:
    """Item 4: whoever can act on the first step gets a DM when the request arrives (not the
    first reminder two days later); 8 TB is management's, so staff are not disturbed."""
    req = await file_quota(bot, "alice", "8TB")
    told = [s.text for s in bot.dms_to("mary") if s.text.startswith(f"New request {req.ref}")]
    assert told == [
        f"New request {req.ref} (storage quota, 8 TB, /project/astro) from alice waits for "
        f"you: say `status of {req.ref}`, or use its buttons in #helpdesk-storage."
    ]
    assert not [s for s in bot.dms_to("sam") if req.ref in s.text]
    small = await file_quota(bot, "alice", "1TB")
    assert [s for s in bot.dms_to("sam") if s.text.startswith(f"New request {small.ref}")]


async def test_an_approver_with_an_address_is_also_emailed(
    tmp_path: Path, db_url: str, smtp: object
) -> None:
    overrides = {
        "email": {
            "enabled": True,
            "host": "127.0.0.1",
            "port": smtp.port,  # type: ignore[attr-defined]
            "from": "quartermaster@hpc.example.org",
        }
    }
    async with TestBot.create(tmp_path, database_url=db_url, overrides=overrides) as bot:
        await bot.grant("mary", "management")
        await bot.app.users.ensure("test", "mary", "mary", email="mary@uni.example.org")
        req = await file_quota(bot, "alice", "8TB")
        await bot.app.background.idle()
        mails = smtp.messages  # type: ignore[attr-defined]
        assert [m.rcpt_tos for m in mails] == [["mary@uni.example.org"]]
        assert f"Subject: [Quartermaster] New request {req.ref}" in mails[0].content.decode()


@pytest.mark.parametrize("yes", ["yup", "yep", "sure", "sounds good", "LGTM"])
async def test_everyday_ways_of_saying_yes_file_the_request(bot: TestBot, yes: str) -> None:
    await bot.say("alice", "request quota")
    for answer in ("1TB", "/project/alice", "more data"):
        await bot.say("alice", answer)
    out = await bot.say("alice", yes)
    assert any(s.text.startswith("Thanks — I filed REQ-") for s in out), yes


async def test_the_confirmation_example_uses_this_requests_own_field(bot: TestBot) -> None:
    """Item 12: not the fixed "actually make it 8TB" for every type; and the example works."""
    await bot.say("alice", "request quota")
    for answer in ("2TB", "/project/alice"):
        await bot.say("alice", answer)
    (summary,) = await bot.say("alice", "thesis data")
    assert summary.text.endswith('e.g. "change the size to 2 TB")')
    (again,) = await bot.say("alice", "change the size to 3 TB")
    assert "• Size: 3 TB" in again.text
