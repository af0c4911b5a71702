"""Request drafts are frozen ``Draft`` values; the conversation store keeps the same JSON as
before (plus the idempotency ``key``), so a draft saved by an earlier version resumes after an
upgrade."""

from __future__ import annotations

from pathlib import Path

from bot.storage.models import Conversation, Request
from bot.testing.harness import TestBot
from bot.workflow.draft import Draft, Requester

TB = 10**12
#: a draft as the dict-based dialogue stored it (every key, in its order)
SAVED = {
    "type": "quota",
    "fields": {"size": 2 * TB, "path": "/scratch/lab", "reason": "runs"},
    "asking": None,
    "stage": "confirm",
    "requester": {"platform": "test", "id": "carol", "name": "Carol"},
}


def test_a_stored_draft_reads_and_writes_back_unchanged() -> None:
    draft = Draft.from_dict(SAVED)
    assert draft.requester == Requester("test", "carol", "Carol") and draft.stage == "confirm"
    assert len(draft.key) == 32 and Draft.from_dict(SAVED).key != draft.key  # one made up each
    keyed = {**SAVED, "key": draft.key}
    assert draft.to_dict() == keyed and list(draft.to_dict()) == list(keyed)
    assert Draft.from_dict(keyed).key == draft.key  # kept once saved
    assert Draft.from_dict(keyed).filed is None
    assert Draft.from_dict(draft.filed_as("REQ-7").to_dict()).filed == "REQ-7"
    changed = draft.with_field("size", 3 * TB).asking_for("reason")
    assert (changed.fields["size"], changed.stage, changed.asking) == (3 * TB, "ask", "reason")
    assert draft.fields["size"] == 2 * TB  # the original is untouched
    assert Draft.from_dict({}).type == "" and Draft.from_dict({}).stage == "ask"


async def test_the_store_keeps_the_same_json_and_an_old_draft_resumes(tmp_path: Path) -> None:
    async with TestBot.create(tmp_path) as bot:
        await bot.say("alice", "request quota 2TB")
        row = await Conversation.get()
        key = row.state["data"]["key"]
        assert row.state == {
            "followup": "workflow.answer",
            "data": {
                "type": "quota",
                "fields": {"size": 2 * TB},
                "asking": "path",
                "stage": "ask",
                "requester": None,
                "key": key,
            },
        }
        await bot.app.conversations.save(row.key, {"followup": "workflow.answer", "data": SAVED})
        out = await bot.say("alice", "yes")
        req = await Request.get()
        assert any(f"filed {req.ref}" in s.text for s in out)
        assert req.fields_data["size"] == 2 * TB
        assert (await req.requester).platform_id == "carol"
