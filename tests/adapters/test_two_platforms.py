"""One process, two platforms: Slack and Mattermost side by side, one person known on both."""

from __future__ import annotations

from pathlib import Path

from peers.mattermost_peer import MattermostPeer, bot_settings
from peers.slack_peer import SlackPeer, settings_for

from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.slack import SlackAdapter
from bot.app import Application
from bot.config import Settings


async def test_slack_and_mattermost_run_together_and_share_a_persons_roles(tmp_path: Path) -> None:
    slack = await SlackPeer().start()
    try:
        async with MattermostPeer() as mm:
            ann_mm = mm.add_user("ann")
            dm = mm.dm_channel(ann_mm, mm.bot_id)
            raw = bot_settings(mm, f"sqlite://{tmp_path / 'both.sqlite3'}", ["skills"])
            raw["adapters"]["slack"] = settings_for(
                slack, tmp_path, "skills"
            ).adapters.slack.model_dump()
            raw["identities"] = {"ann": ["slack:UALICE", f"mattermost:{ann_mm}"]}
            raw["roles"] = {"grants": {"staff": ["slack:UALICE"]}}
            settings = Settings.model_validate(raw)
            async with Application(
                settings, adapters=[SlackAdapter, MattermostAdapter], load_nlu=False
            ) as app:
                assert set(app.adapters) == {"slack", "mattermost"}
                await slack.wait_connections(1)
                await slack.say("UALICE", "ping", "DALICE")
                await slack.wait_posted(1)
                assert slack.posted[0].text == "pong"
                await mm.post_as(ann_mm, dm, "whoami")
                (answer,) = await mm.wait_for(lambda: mm.bot_posts(dm))
                assert "staff" in answer["message"]  # granted on Slack, holds here
                await app.notify("person:ann", "REQ-7 was approved")
                assert slack.posted[-1].text == "REQ-7 was approved"  # her first platform
    finally:
        await slack.close()
