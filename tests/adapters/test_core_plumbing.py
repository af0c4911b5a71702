"""Plumbing decided once in the core, whatever the platform: duplicates, echoes, pruning, and
Slack's ack before any look-up. Real adapters against the local peers, real databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings
from peers.slack_peer import SlackPeer, settings_for, write_skill_package

from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.slack import SlackAdapter
from bot.app import Application
from bot.config import Settings
from bot.storage.db import close_database, open_database
from bot.storage.models import SeenEvent

DM = "DALICE"


@pytest.fixture
async def slack() -> AsyncIterator[SlackPeer]:
    peer = await SlackPeer().start()
    yield peer
    await peer.close()


@pytest.fixture
def skills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    return write_skill_package(tmp_path)


async def test_repeats_on_both_platforms_are_dropped_by_the_core_once_each(
    slack: SlackPeer, skills: str, tmp_path: Path
) -> None:
    async with MattermostPeer() as mm:
        ann = mm.add_user("ann")
        dm = mm.dm_channel(ann, mm.bot_id)
        raw = bot_settings(mm, f"sqlite://{tmp_path / 'both.sqlite3'}", [skills])
        raw["adapters"]["slack"] = settings_for(slack, tmp_path, skills).adapters.slack.model_dump()
        async with Application(
            Settings.model_validate(raw), adapters=[SlackAdapter, MattermostAdapter], load_nlu=False
        ) as app:
            await slack.wait_connections(1)
            _, envelopes = await slack.say("UALICE", "ping", DM)
            await slack.wait_posted(1)
            await slack.resend(envelopes[0])  # Slack: not acked in time
            post = await mm.post_as(ann, dm, "ping")
            await mm.wait_for(lambda: mm.bot_posts(dm))
            await mm.redeliver(post["id"])  # Mattermost: replay
            await mm.post_as(ann, dm, "ping")  # a sentinel behind the replay
            await mm.wait_for(lambda: len(mm.bot_posts(dm)) == 2)
            await slack.wait_for(lambda: len(slack.acks) == 2)  # acked once handed over
            await app.dispatcher.join()
            assert [p.text for p in slack.posted] == ["pong"]
            assert [p["message"] for p in mm.bot_posts(dm)] == ["pong", "pong"]
            assert app.inbound.duplicates == 2 and app.stats.handled == 3


async def test_the_bots_own_posts_come_back_and_the_core_drops_them(
    skills: str, tmp_path: Path
) -> None:
    async with MattermostPeer() as mm:
        ann = mm.add_user("ann")
        dm = mm.dm_channel(ann, mm.bot_id)
        raw = bot_settings(mm, f"sqlite://{tmp_path / 'mm.sqlite3'}", [skills])
        async with Application(
            Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False
        ) as app:
            await mm.post_as(ann, dm, "ping")
            await mm.wait_for(lambda: len(mm.bot_posts(dm)) == 1)
            await mm.post_as(ann, dm, "ping")  # behind the echo of the first "pong"
            await mm.wait_for(lambda: len(mm.bot_posts(dm)) == 2)
            await app.dispatcher.join()
            assert app.inbound.echoes >= 1
            assert app.stats.received == {"mattermost": 2}  # echoes are not even counted


async def test_slack_acks_before_the_user_look_up(
    slack: SlackPeer, skills: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.app.NAME_LOOKUP_SECONDS", 30.0)  # wait for the held look-up
    async with Application(
        settings_for(slack, tmp_path, skills), adapters=[SlackAdapter], load_nlu=False
    ):
        await slack.wait_connections(1)
        slack.hold("users.info")
        _, envelopes = await slack.say("UALICE", "who am i", DM)
        for envelope in envelopes:
            await slack.wait_ack(envelope)  # acked while users.info has no answer
        await slack.wait_for(lambda: len(slack.calls_of("users.info")) == 1)
        assert slack.posted == []
        slack.release("users.info")
        (answer,) = await slack.wait_posted(1)
        assert answer.text == "you are alice"


async def test_a_slack_only_single_process_install_prunes_old_delivery_ids(
    slack: SlackPeer, skills: str, tmp_path: Path
) -> None:
    settings = settings_for(slack, tmp_path, skills)
    await open_database(settings.database.resolved_url())
    try:
        await SeenEvent.create(key="slack:T:event:old")
        await SeenEvent.create(key="slack:T:event:recent")
        await SeenEvent.filter(key="slack:T:event:old").update(
            seen_at=datetime.now(UTC) - timedelta(hours=2)
        )
    finally:
        await close_database()
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        await slack.wait_connections(1)
        keys = sorted(await SeenEvent.all().values_list("key", flat=True))
        assert keys == ["slack:T:event:recent"]
        assert app.dedupe.redis is None
