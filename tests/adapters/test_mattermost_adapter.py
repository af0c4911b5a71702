"""The Mattermost adapter against the local protocol peer: real sockets, real mattermostautodriver.

Mentions answered in the right thread, DMs, edits, own and other bots' posts ignored, buttons
(a signed click runs the skill's action, a forged one is refused), clear start-up errors.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from peers.mattermost_peer import MattermostPeer, bot_settings, write_skill_package

from bot.adapters.mattermost import MattermostAdapter, MattermostStartupError
from bot.app import Application
from bot.config import Settings
from bot.errors import ConfigError
from bot.events import PostedRef

SKILL = """
from bot.events import Choice
from bot.skill import Skill

skill = Skill("mmtest", "exercises the Mattermost adapter")
SEEN = []


@skill.command(r"^ping$")
async def ping(ctx):
    SEEN.append(("ping", ctx.message.id, ctx.message.edited))
    await ctx.reply("pong")


@skill.command(r"^whoami$")
async def whoami(ctx):
    info = await ctx.adapter.user_info(ctx.user_id)
    await ctx.reply(f"{ctx.user_name} / {info.name} / {info.email}")


@skill.command(r"^ask$")
async def ask(ctx):
    await ctx.reply("Approve the request?", choices=[
        Choice("Approve", "mmtest.approve", "REQ-42", "primary"),
        Choice("Deny", "mmtest.deny", "REQ-42", "danger")])


@skill.action("mmtest.approve")
async def approve(ctx):
    SEEN.append(("approve", ctx.interaction.value, ctx.user_id))
    await ctx.reply(f"approved {ctx.interaction.value} by {ctx.user_name}")
"""


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer() as p:
        yield p


@pytest.fixture
def skills_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    return write_skill_package(root, f"mmskills_{uuid.uuid4().hex[:8]}", SKILL)


def seen(pkg: str) -> list[Any]:
    return sys.modules[f"{pkg}.mmtest"].SEEN  # type: ignore[no-any-return]


def make_app(peer: MattermostPeer, tmp_path: Path, pkg: str, **mattermost: Any) -> Application:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [pkg], **mattermost)
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


def texts(posts: list[dict[str, Any]]) -> list[str]:
    return [p["message"] for p in posts]


async def test_channel_mention_is_answered_in_its_thread(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg):
        root = await peer.post_as(alice, town, "@quartermaster ping")
        answer = await peer.wait_for(lambda: peer.bot_posts(town))
        assert texts(answer) == ["pong"]
        assert answer[0]["root_id"] == root["id"]  # a root post starts the thread

        # a mention that is itself a reply: the answer's root_id is the thread ROOT, not it
        reply = await peer.post_as(alice, town, "@quartermaster ping", root_id=root["id"])
        answers = await peer.wait_for(
            lambda: len(peer.bot_posts(town)) == 2 and peer.bot_posts(town)
        )
        assert answers[1]["root_id"] == root["id"] != reply["id"]
        # ...and it got there without a rejected first attempt (no 400 and retry)
        assert all(c.body.get("root_id") != reply["id"] for c in peer.calls_to("POST", r"/posts$"))

        # chatter without a mention is not answered
        await peer.post_as(alice, town, "ping")
        await peer.post_as(alice, town, "@quartermaster ping")
        await peer.wait_for(lambda: len(peer.bot_posts(town)) == 3)
    assert [s[0] for s in seen(skills_pkg)] == ["ping", "ping", "ping"]


async def test_direct_message_and_user_lookup(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    bob = peer.add_user("bob", first_name="Bob", last_name="Builder", email="bob@hpc.example")
    dm = peer.dm_channel(bob, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg):
        await peer.post_as(bob, dm, "ping")  # no mention needed in a DM
        await peer.post_as(bob, dm, "whoami")
        answers = await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 2 and peer.bot_posts(dm))
    assert texts(answers) == ["pong", "bob / Bob Builder / bob@hpc.example"]
    assert all(p["root_id"] == "" for p in answers)  # DMs stay flat
    # the user look-up is cached: one GET /users/{bob} for two messages
    assert len(peer.calls_to("GET", rf"/users/{bob}$")) == 1


async def test_edit_that_mentions_the_bot_is_handled(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg):
        post = await peer.post_as(alice, town, "pnig")  # not addressed: ignored
        await peer.edit_as(post["id"], "@quartermaster ping")
        answer = await peer.wait_for(lambda: peer.bot_posts(town))
    assert texts(answer) == ["pong"]
    assert answer[0]["root_id"] == post["id"]
    assert seen(skills_pkg) == [("ping", post["id"], True)]


async def test_own_and_other_bots_posts_are_ignored(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    robot = peer.add_user("ci-bot", is_bot=True)
    town = peer.add_channel("town-square", members=[alice, robot, peer.bot_id])
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        # the bot's own post mentioning itself (a loop waiting to happen) is not handled
        await adapter.send(town, adapter.mention(peer.bot_id) + " ping")
        await peer.post_as(robot, town, "@quartermaster ping")
        await peer.post_as(alice, dm, "ping")  # a sentinel that is answered
        await peer.wait_for(lambda: peer.bot_posts(dm))
        await app.dispatcher.join()
    assert texts(peer.bot_posts(town)) == ["@quartermaster ping"]
    assert [s[0] for s in seen(skills_pkg)] == ["ping"]


async def test_update_patches_and_delete_removes(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        ref = await adapter.send(town, "first")
        await adapter.update(ref, "second")
        assert peer.posts[ref.id]["message"] == "second"
        assert peer.posts[ref.id]["edit_at"] > 0
        await adapter.delete(ref)
        assert peer.posts[ref.id]["delete_at"] > 0
    assert peer.calls_to("PUT", rf"/posts/{ref.id}/patch$")
    assert not peer.calls_to("PUT", rf"/posts/{ref.id}$")  # never the whole-post PUT


async def test_channels_can_be_named(peer: MattermostPeer, tmp_path: Path, skills_pkg: str) -> None:
    """Workflows post to channels by name (``helpdesk-storage``); REST wants the id."""
    alice = peer.add_user("alice")
    desk = peer.add_channel("helpdesk-storage", members=[alice, peer.bot_id])
    peer.add_channel("elsewhere", members=[alice])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        ref = await adapter.send("helpdesk-storage", "new request")
        assert ref.channel == desk and peer.posts[ref.id]["channel_id"] == desk
        await adapter.send("~helpdesk-storage", "again")
        with pytest.raises(LookupError, match="not a member of a channel named 'elsewhere'"):
            await adapter.send("elsewhere", "nope")


async def test_reply_id_handed_as_thread_is_resolved_to_the_root(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        root = await peer.post_as(alice, town, "a question")
        reply = await peer.post_as(alice, town, "more detail", root_id=root["id"])
        ref = await app.adapters["mattermost"].send(town, "noted", thread=reply["id"])
    assert isinstance(ref, PostedRef)
    assert peer.posts[ref.id]["root_id"] == root["id"]


async def test_button_click_runs_the_action_and_a_forged_click_is_refused(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        root = await peer.post_as(alice, town, "@quartermaster ask")
        offer = (await peer.wait_for(lambda: peer.bot_posts(town)))[0]
        actions = offer["props"]["attachments"][0]["actions"]
        assert [a["name"] for a in actions] == ["Approve", "Deny"]
        assert all(a["id"].isalnum() for a in actions)
        port = app.http.port
        assert actions[0]["integration"]["url"] == f"http://127.0.0.1:{port}/mattermost/actions"
        # clients never see the integration (the server strips it)
        assert (
            "integration"
            not in MattermostPeer.for_clients(offer)["props"]["attachments"][0]["actions"][0]
        )

        forged = dict(actions[0]["integration"]["context"], value="REQ-1")
        refused = await peer.click(alice, offer["id"], "Approve", context=forged)
        assert refused.status == 403
        no_sig = {"action": "mmtest.approve", "value": "REQ-42", "thread": root["id"]}
        assert (await peer.click(alice, offer["id"], "Approve", context=no_sig)).status == 403

        clicked = await peer.click(alice, offer["id"], "Approve")
        assert clicked.status == 200
        answers = await peer.wait_for(
            lambda: len(peer.bot_posts(town)) == 2 and peer.bot_posts(town)
        )
    assert answers[1]["message"] == "approved REQ-42 by alice"
    assert answers[1]["root_id"] == root["id"]
    assert seen(skills_pkg) == [("approve", "REQ-42", alice)]


async def test_click_signed_for_another_channel_is_refused(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    other = peer.add_channel("ops", members=[alice, peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg):
        await peer.post_as(alice, town, "@quartermaster ask")
        offer = (await peer.wait_for(lambda: peer.bot_posts(town)))[0]
        decoy = await peer.post_as(alice, other, "hello")
        context = offer["props"]["attachments"][0]["actions"][0]["integration"]["context"]
        # replay the genuine context, but as if clicked on a post in another channel
        peer.posts[decoy["id"]]["props"] = offer["props"]
        result = await peer.click(alice, decoy["id"], "Approve", context=context)
    assert result.status == 403
    assert seen(skills_pkg) == []


async def test_bad_token_is_a_clear_one_line_error(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    app = make_app(peer, tmp_path, skills_pkg, token="not-the-right-token-123")
    with pytest.raises(MattermostStartupError) as err:
        await app.start()
    message = str(err.value)
    assert "rejected the bot token" in message and "401" in message
    assert "not-the-right-token-123" not in message and "\n" not in message


async def test_unreachable_server_is_a_clear_error(
    tmp_path: Path, skills_pkg: str, free_port: int
) -> None:
    peer = MattermostPeer()
    peer.url = f"http://127.0.0.1:{free_port}"
    app = make_app(peer, tmp_path, skills_pkg)
    with pytest.raises(MattermostStartupError) as err:
        await app.start()
    assert f"cannot reach http://127.0.0.1:{free_port}/api/v4/users/me" in str(err.value)
    assert peer.token not in str(err.value)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"token": None}, "adapters.mattermost.token: "),
        ({"url": "chat.example.org"}, "adapters.mattermost.url: must be an http"),
        ({"colour": "blue"}, "adapters.mattermost.colour: unknown key"),
    ],
)
async def test_config_errors_name_the_key(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, override: dict[str, Any], expected: str
) -> None:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [skills_pkg])
    section = raw["adapters"]["mattermost"]
    for key, value in override.items():
        if value is None:
            section.pop(key)
        else:
            section[key] = value
    app = Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)
    with pytest.raises(ConfigError) as err:
        await app.start()
    assert str(err.value).startswith(expected)
    assert peer.token not in str(err.value)


async def test_buttons_need_the_http_server(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [skills_pkg])
    raw["http"]["enabled"] = False
    app = Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)
    with pytest.raises(ConfigError, match=r"http\.enabled: true"):
        await app.start()


async def test_server_under_a_base_path(tmp_path: Path, skills_pkg: str) -> None:
    async with MattermostPeer(base_path="/chat") as peer:
        alice = peer.add_user("alice")
        dm = peer.dm_channel(alice, peer.bot_id)
        assert peer.url.endswith("/chat")
        async with make_app(peer, tmp_path, skills_pkg):
            await peer.post_as(alice, dm, "ping")
            answer = await peer.wait_for(lambda: peer.bot_posts(dm))
    assert texts(answer) == ["pong"]
    assert all(c.path.startswith("/chat/api/v4/") for c in peer.calls)


async def test_listen_channels_and_other_bots_when_allowed(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    robot = peer.add_user("ci-bot", is_bot=True)
    helpdesk = peer.add_channel("helpdesk", members=[alice, robot, peer.bot_id])
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    async with make_app(
        peer, tmp_path, skills_pkg, listen_channels=["helpdesk"], ignore_bots=False
    ) as app:
        await peer.post_as(alice, town, "ping")  # not listened: needs a mention
        await peer.post_as(alice, helpdesk, "ping")  # listened: no mention needed
        await peer.post_as(robot, helpdesk, "ping")  # another bot, allowed by config
        await peer.wait_for(lambda: len(peer.bot_posts(helpdesk)) == 2)
        await app.dispatcher.join()
    assert peer.bot_posts(town) == []
    assert len(seen(skills_pkg)) == 2


async def test_token_never_reaches_the_logs(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    alice = peer.add_user("alice")
    dm = peer.dm_channel(alice, peer.bot_id)
    async with make_app(peer, tmp_path, skills_pkg):
        await peer.post_as(alice, dm, "ping")
        await peer.wait_for(lambda: peer.bot_posts(dm))
        await peer.drop_websockets()
        await peer.wait_for(lambda: peer.sockets)  # reconnected
    bad = make_app(peer, tmp_path, skills_pkg, token="wrong-token-abcdef123")
    with pytest.raises(MattermostStartupError):
        await bad.start()
    assert "websocket lost" in caplog.text  # the logs did cover a reconnect
    assert peer.token not in caplog.text and "wrong-token-abcdef123" not in caplog.text


async def test_team_the_bot_is_not_in_is_a_clear_error(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    app = make_app(peer, tmp_path, skills_pkg, team="research")
    with pytest.raises(MattermostStartupError, match="not a member of team 'research'"):
        await app.start()
    async with make_app(peer, tmp_path, skills_pkg, team="helpdesk") as ok:
        assert ok.adapters["mattermost"].team_ids == [peer.team["id"]]


async def test_notify_opens_a_dm_with_buttons_and_the_click_answers_there(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    from bot.events import Choice

    sam = peer.add_user("sam")
    async with make_app(peer, tmp_path, skills_pkg) as app:
        ref = await app.notify(
            f"mattermost:{sam}",
            "REQ-7 needs your approval",
            choices=[Choice("Approve", "mmtest.approve", "REQ-7")],
        )
        assert ref is not None
        dm = peer.dm_channel(sam, peer.bot_id)
        assert ref.channel == dm and len(peer.calls_to("POST", r"/channels/direct$")) == 1
        clicked = await peer.click(sam, ref.id, "Approve")
        assert clicked.status == 200
        answers = await peer.wait_for(lambda: len(peer.bot_posts(dm)) == 2 and peer.bot_posts(dm))
        await app.notify(f"mattermost:{sam}", "done")  # the DM channel is cached
    assert answers[1]["message"] == "approved REQ-7 by sam" and answers[1]["root_id"] == ""
    assert len(peer.calls_to("POST", r"/channels/direct$")) == 1
    assert seen(skills_pkg) == [("approve", "REQ-7", sam)]
