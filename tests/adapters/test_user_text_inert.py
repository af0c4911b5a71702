"""What a user typed is inert in the bot's posts; only the bot's own tags notify (#13, point 6).

A request's purpose and a deny reason carrying every live form both platforms know reach the
helpdesk channel as text: no broadcast, no mention, no disguised link. The card's own tag of
the approvers still notifies them. Through the real workflow skill and both protocol peers.
"""

from __future__ import annotations

from pathlib import Path

from peers.mattermost_peer import MattermostPeer, bot_settings
from peers.slack_peer import SlackPeer, live_markup, settings_for

from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.slack import SlackAdapter
from bot.app import Application
from bot.config import Settings

EVIL = "<!channel> @channel @here @all <@U123> <https://evil|bank> [bank](https://evil)"


async def test_slack_user_text_is_inert_and_the_approvers_tag_is_live(tmp_path: Path) -> None:
    peer = await SlackPeer().start()
    peer.add_user("UMARY", "mary")
    settings = settings_for(
        peer, tmp_path, "skills", roles={"grants": {"management": ["slack:UMARY"]}}
    )
    try:
        async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
            await peer.wait_connections(1)
            for n, text in enumerate(
                ["request quota 8TB", "/scratch/group/neuro", EVIL, "yes"], start=1
            ):
                await peer.say("UALICE", text, "DALICE")
                await peer.wait_for(
                    lambda n=n: len([p for p in peer.posted if p.channel == "DALICE"]) >= n
                )
            await peer.wait_for(lambda: any(p.channel == "helpdesk-storage" for p in peer.posted))
            card = next(p for p in peer.posted if p.channel == "helpdesk-storage")
            assert "&lt;!channel&gt;" in card.text and "&lt;https://evil|bank&gt;" in card.text
            assert live_markup(card.text) == ["@UALICE", "@UMARY"], card.text  # requester, approver

            await peer.say("UMARY", f"deny REQ-1 {EVIL}", "DMARY")
            await peer.wait_for(lambda: "denied" in peer.messages[(card.channel, card.ts)]["text"])
            await app.dispatcher.join()
            await app.background.idle()
            denied = peer.messages[(card.channel, card.ts)]["text"]
            assert denied.count("&lt;!channel&gt;") == 2 and "[bank](https://evil)" in denied
            assert live_markup(denied) == ["@UALICE"]
            for post in peer.posted:
                assert set(live_markup(post.text)) <= {"@UALICE", "@UMARY"}, post.text
    finally:
        await peer.close()


async def test_mattermost_user_text_is_inert_and_the_approvers_tag_notifies(
    tmp_path: Path,
) -> None:
    async with MattermostPeer() as peer:
        alice, mary, bob = (peer.add_user(n) for n in ("alice", "mary", "bob"))
        desk = peer.add_channel("helpdesk-storage", members=[mary, bob, peer.bot_id])
        dm = peer.dm_channel(alice, peer.bot_id)
        raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", ["skills"])
        raw["roles"] = {"grants": {"management": [f"mattermost:{mary}"]}}
        app = Application(
            Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False
        )
        async with app:
            for n, text in enumerate(
                ["request quota 8TB", "/scratch/group/neuro", EVIL, "yes"], start=1
            ):
                await peer.post_as(alice, dm, text)
                await peer.wait_for(lambda n=n: len(peer.bot_posts(dm)) >= n)
            card = (await peer.wait_for(lambda: peer.bot_posts(desk)))[0]
            assert "channel" in card["message"] and "evil" in card["message"]
            assert peer.notified(card) == {mary}  # the approver; bob is not broadcast to
            assert peer.links(card) == []

            mary_dm = peer.dm_channel(mary, peer.bot_id)
            await peer.post_as(mary, mary_dm, f"deny REQ-1 {EVIL}")
            await peer.wait_for(lambda: "denied" in peer.posts[card["id"]]["message"])
            await app.dispatcher.join()
            await app.background.idle()
            denied = peer.posts[card["id"]]
            assert denied["message"].count("bank") == 4  # both copies of the text are shown
            assert peer.notified(denied) == set()
            assert peer.links(denied) == []
            for post in peer.bot_posts():
                assert peer.notified(post) <= {alice, mary}, post["message"]
                assert peer.links(post) == [], post["message"]


async def test_a_defused_mention_pasted_back_still_addresses_the_bot(tmp_path: Path) -> None:
    """The bot's own ``@quartermaster`` reads "@\u200bquartermaster" once defused; a user who
    copies it from the bot's help into a channel still addresses the bot."""
    async with MattermostPeer() as peer:
        bob = peer.add_user("bob")
        town = peer.add_channel("town-square", members=[bob, peer.bot_id])
        raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", ["skills"])
        app = Application(
            Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False
        )
        async with app:
            await peer.post_as(bob, town, "@\u200bquartermaster ping")
            (answer,) = await peer.wait_for(lambda: peer.bot_posts(town))
    assert "pong" in answer["message"].lower()
