"""Edit and delete update every copy; search, "waiting for my approval", text transitions with
reasons, and role refusals. (Reminders: test_wf_reminders.py.)"""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import PostedCopy, Request, RequestEvent
from bot.testing.harness import TestBot

TB = 10**12


async def file_quota(bot: TestBot, user: str, size: str, path: str = "/scratch/x") -> Request:
    await bot.say(user, f"request quota {size} {path}")
    out = await bot.say(user, "work")
    if "purchase" in out[-1].text.lower():
        await bot.say(user, "PO-1")
    await bot.say(user, "yes")
    found = await Request.filter().order_by("-id").first()
    assert found is not None
    return found


async def test_edit_and_delete_update_every_copy_and_keep_history(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.grant("sam", "staff")
        req = await file_quota(bot, "alice", "8TB")
        card = next(s for s in bot.sent if s.channel == "helpdesk-storage")
        mine = next(s for s in bot.dms_to("alice") if s.text.startswith("*REQ"))
        assert "@mary" not in card.text
        out = await bot.say("bob", f"edit {req.ref} size=3TB")
        assert "Only the requester or staff" in out[-1].text
        out = await bot.say("alice", f"edit {req.ref} size=lots")
        assert "isn't a size" in out[-1].text
        out = await bot.say("alice", f"edit {req.ref} size=3TB")
        assert "Size = 3 TB" in out[-1].text
        assert "3 TB" in card.text and "3 TB" in mine.text
        assert "@sam" in card.text  # now staff's to approve
        out = await bot.say("bob", f"delete {req.ref}")
        assert "Only the requester or staff" in out[-1].text and not card.deleted
        out = await bot.say("sam", f"delete {req.ref} duplicate")
        assert card.deleted and mine.deleted
        assert await PostedCopy.filter(request_id=req.id).count() == 0
        row = await Request.get(id=req.id)
        assert row.deleted
        actions = [e.action for e in await RequestEvent.filter(request_id=req.id)]
        assert actions == ["submitted", "edited", "deleted"]
        edited = await RequestEvent.get(request_id=req.id, action="edited")
        assert edited.data == {"changes": {"size": [8 * TB, 3 * TB]}, "reopened": False}
        out = await bot.say("alice", f"status of {req.ref}")
        assert f"There is no request {req.ref}" in out[-1].text


async def test_text_transitions_reasons_search_and_waiting(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.grant("sam", "staff")
        await bot.grant("mary", "management")
        small = await file_quota(bot, "alice", "2TB", "/project/a")
        big = await file_quota(bot, "bob", "9TB", "/scratch/b")
        out = await bot.say("sam", "what's waiting for my approval?")
        assert small.ref in out[-1].text and f"{big.ref} " in out[-1].text  # sam may deny it
        out = await bot.say("sam", f"approve {big.ref}")
        assert [s.dm_to for s in out] == ["sam"] and "need management" in out[0].text
        out = await bot.say("alice", f"approve {small.ref}")
        assert "that needs staff or management" in out[-1].text
        out = await bot.say("sam", f"deny {big.ref}")  # reason is required
        assert "Why should" in out[-1].text
        out = await bot.say("sam", "storage is full")
        assert (await Request.get(id=big.id)).state == "denied"
        assert any("was denied by sam: storage is full" in s.text for s in bot.dms_to("bob"))
        out = await bot.say("mary", f"reject {small.ref} no budget left")  # a verb alias
        assert (await Request.get(id=small.id)).state == "denied"
        out = await bot.say("alice", f"complete {small.ref}")
        assert "denied, so it can't be completed" in out[-1].text
        out = await bot.say("sam", "search requests size>5TB")
        assert big.ref in out[-1].text and small.ref not in out[-1].text
        out = await bot.say("sam", "search requests path:/project state:denied")
        assert small.ref in out[-1].text and big.ref not in out[-1].text
        out = await bot.say("alice", "search requests type:quota")  # researchers: own only
        assert small.ref in out[-1].text and big.ref not in out[-1].text
        out = await bot.say("alice", "list my open requests")
        assert "no open requests" in out[-1].text
        out = await bot.say("alice", "request stats")
        assert "needs one of the roles helpdesk, staff, management or operator" in out[-1].text
        out = await bot.say("mary", "request stats last 7 days")
        assert "Requests filed in the last 7 days: 2" in out[-1].text
        assert "Storage quota: 2 (denied 2)" in out[-1].text


async def test_assign_and_take_update_the_card_notify_and_are_searchable(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.grant("hank", "helpdesk")
        req = await file_quota(bot, "alice", "2TB")
        refused = await bot.say("alice", f"assign {req.ref} to @hank")
        assert "needs one of the roles helpdesk, staff, management or operator" in refused[-1].text
        out = await bot.say("hank", f"assign {req.ref} to @sam")
        assert out[0].text == f"{req.ref} is now assigned to @sam."  # answered first
        assert bot.dms_to("sam")[-1].text.startswith(f"hank assigned {req.ref}")
        card = next(s for s in bot.sent if s.channel == "helpdesk-storage")
        assert "Assigned to: @sam" in card.text and card.edits
        out = await bot.say("hank", f"take {req.ref}")
        assert out[-1].text == f"{req.ref} is now assigned to you."
        assert (await Request.get(id=req.id)).assignee == "test:hank"
        assert "Assigned to: @hank" in card.text
        actions = await RequestEvent.filter(request_id=req.id).values_list("action", flat=True)
        assert list(actions).count("assigned") == 2
        found = await bot.say("hank", "search requests assignee:hank")
        assert req.ref in found[-1].text
