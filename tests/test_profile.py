"""E-mail addresses: set by the person (confirmed first), by an admin from the server, or taken
from the platform profile (issue #12 item 10); on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage.models import AuditEvent, User
from bot.testing import TestBot


@pytest.fixture
async def bot(tmp_path: Path, db_url: str):
    async with TestBot.create(tmp_path, database_url=db_url) as bot:
        yield bot


async def test_a_person_sets_their_address_after_confirming_it(bot: TestBot) -> None:
    (ask,) = await bot.say("alice", "my email is Alice@Uni.EDU.")
    assert ask.text.startswith("Set your e-mail address to Alice@uni.edu?")
    assert ask.labels == ["Yes", "No"]
    assert await User.filter(platform_id="alice").exclude(email=None).count() == 0  # not yet
    (done,) = await bot.click("alice", ask, "Yes")
    assert done.text == "Done: I'll send e-mail about your requests to Alice@uni.edu."
    assert (await User.get(platform_id="alice")).email == "Alice@uni.edu"
    await bot.app.audit.flush()
    assert await AuditEvent.filter(kind="user.email", actor="test:alice").count() == 1
    (shown,) = await bot.say("alice", "what's my email?")
    assert "Alice@uni.edu" in shown.text


async def test_a_typed_answer_works_and_no_keeps_the_old_address(bot: TestBot) -> None:
    await bot.say("bob", "set my email to bob@uni.edu")
    (done,) = await bot.say("bob", "yup")
    assert "bob@uni.edu" in done.text
    await bot.say("bob", "my email is robert@elsewhere.org")
    (kept,) = await bot.say("bob", "no")
    assert kept.text == "OK, I left your e-mail address as it was: bob@uni.edu."
    assert (await User.get(platform_id="bob")).email == "bob@uni.edu"


async def test_slack_mailto_markup_and_bad_addresses(bot: TestBot) -> None:
    (ask,) = await bot.say("carol", "my email is <mailto:carol@uni.edu|carol@uni.edu>")
    assert "carol@uni.edu?" in ask.text
    await bot.say("carol", "cancel")
    (bad,) = await bot.say("carol", "my email is carol-at-uni")
    assert bad.text.startswith("'carol-at-uni' isn't an e-mail address I can use")
    assert await User.filter(platform_id="carol").exclude(email=None).count() == 0


async def test_nobody_confirms_someone_elses_address(bot: TestBot) -> None:
    (ask,) = await bot.say("dave", "my email is dave@uni.edu", channel="general")
    (refused,) = await bot.click("erin", ask, "Yes")
    assert "expired" in refused.text or "someone else" in refused.text
    assert await User.filter(platform_id="dave", email="dave@uni.edu").count() == 0
