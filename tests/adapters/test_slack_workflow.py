"""A helpdesk request end to end on Slack: filed in a DM, approved with the card's button.

The real workflow skill, the real slack-bolt client, the Slack protocol peer: the button click is
a ``block_actions`` envelope, the transition updates the posted card (``chat.update``) and the
requester hears about it in a DM.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from peers.slack_peer import SlackPeer, settings_for

from bot.adapters.slack import SlackAdapter
from bot.app import Application


@pytest.fixture
async def peer() -> AsyncIterator[SlackPeer]:
    p = await SlackPeer().start()
    p.add_user("USAM", "sam")
    p.add_user("UMARY", "mary")
    yield p
    await p.close()


async def say_and_wait(peer: SlackPeer, user: str, text: str, channel: str) -> str:
    before = len(peer.posted)
    await peer.say(user, text, channel)
    await peer.wait_posted(before + 1)
    return peer.posted[-1].text


async def test_quota_request_is_approved_by_clicking_the_cards_button(
    peer: SlackPeer, tmp_path: Path
) -> None:
    settings = settings_for(
        peer,
        tmp_path,
        "skills",
        roles={"grants": {"staff": ["slack:USAM"], "management": ["slack:UMARY"]}},
    )
    async with Application(settings, adapters=[SlackAdapter], load_nlu=False) as app:
        await peer.wait_connections(1)
        assert "storage area" in await say_and_wait(peer, "UALICE", "request quota 3TB", "DALICE")
        assert "space for" in await say_and_wait(peer, "UALICE", "/scratch/group/neuro", "DALICE")
        assert "Shall I file it" in await say_and_wait(peer, "UALICE", "training data", "DALICE")
        await peer.say("UALICE", "yes", "DALICE")
        await peer.wait_for(lambda: any(p.channel == "helpdesk-storage" for p in peer.posted))
        card = next(p for p in peer.posted if p.channel == "helpdesk-storage")
        assert "REQ-1" in card.text and "3 TB" in card.text
        assert [b["text"]["text"] for b in card.buttons][:2] == ["Approve", "Deny"]

        envelope = await peer.click("USAM", card, "Approve")
        await peer.wait_ack(envelope)
        try:
            await peer.wait_for(
                lambda: "approved" in peer.messages[(card.channel, card.ts)]["text"].lower()
            )
        except TimeoutError:
            raise AssertionError([(p.channel, p.text) for p in peer.posted]) from None
        await app.dispatcher.join()
        await app.background.idle()  # the DMs follow the answer
        updated = peer.messages[(card.channel, card.ts)]
        approve_buttons = [
            b
            for bl in updated.get("blocks") or ()
            for b in bl.get("elements", ())
            if b.get("text", {}).get("text") == "Approve"
        ]
        assert not approve_buttons  # the taken transition is no longer offered
        dms = [p.text for p in peer.posted if p.channel == "DALICE"]
        assert any("REQ-1" in t and "approved" in t.lower() for t in dms)

    # the application is stopped; reopen the same database to read the record
    from bot.storage.db import close_database, open_database
    from bot.storage.models import Request, RequestEvent

    await open_database(settings.database.resolved_url())
    try:
        req = await Request.get(id=1)
        assert req.state == "approved"
        events = await RequestEvent.filter(request_id=1).values_list("action", flat=True)
        assert list(events) == ["submitted", "approve"]
    finally:
        await close_database()
