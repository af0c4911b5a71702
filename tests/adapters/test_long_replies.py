"""Replies longer than the platform allows: split where a reader would, posted in order in the
same thread, and updated / deleted as one message. Unit checks of ``bot.textsplit`` first, then
the Mattermost adapter against the peer (which refuses over-long posts as the server does) and
the Slack adapter against the Slack peer."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from peers.mattermost_peer import LENGTH_ERROR, MattermostPeer, bot_settings, write_skill_package
from peers.slack_peer import SlackPeer, settings_for
from peers.slack_peer import write_skill_package as write_slack_skills

from bot.adapters.mattermost import MattermostAdapter
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack.blocks import escape
from bot.app import Application
from bot.config import Settings
from bot.events import Choice
from bot.textsplit import split

FENCE_LINE = re.compile(r"^ {0,3}(```|~~~)", re.MULTILINE)


def words(parts: list[str]) -> list[str]:
    """The words of the parts, fence lines the splitter added or repeated left out."""
    return [
        w
        for p in parts
        for line in p.split("\n")
        if not FENCE_LINE.match(line)
        for w in line.split()
    ]


def long_text(paragraphs: int = 12) -> str:
    prose = [
        f"Paragraph {i}: " + " ".join(f"word{i}x{j}" for j in range(25)) for i in range(paragraphs)
    ]
    code = (
        "```python\n"
        + "\n".join(f"value_{i} = compute({i})  # step {i}" for i in range(30))
        + "\n```"
    )
    return "\n\n".join([*prose[: paragraphs // 2], code, *prose[paragraphs // 2 :]])


# -- the splitter ------------------------------------------------------------------------------
def test_short_text_is_one_part() -> None:
    assert split("hello", 100) == ["hello"]


@pytest.mark.parametrize("limit", [64, 150, 400, 1000])
def test_parts_fit_keep_every_word_and_balance_fences(limit: int) -> None:
    text = long_text()
    parts = split(text, limit)
    assert len(parts) > 1
    assert all(len(p) <= limit for p in parts)
    assert words(parts) == words([text])
    for part in parts:  # every part renders its code as code
        assert len(FENCE_LINE.findall(part)) % 2 == 0, part


def test_paragraphs_then_lines_then_words() -> None:
    para = "alpha " * 20 + "\n\n" + "beta " * 20
    assert split(para, 130) == ["alpha " * 19 + "alpha ", "beta " * 19 + "beta "]
    lines = "\n".join(f"line {i:02d} of the log" for i in range(10))
    parts = split(lines, 100)
    assert all(not p.startswith("\n") and p.split("\n")[-1].endswith("of the log") for p in parts)
    one_line = "word " * 40
    assert all(p.strip().endswith("word") for p in split(one_line, 64))


def test_a_cut_inside_code_reopens_the_fence_with_its_language() -> None:
    code = "Intro.\n\n```bash\n" + "\n".join(f"echo {i}" for i in range(40)) + "\n```\nDone."
    parts = split(code, 120)
    assert parts[0].endswith("\n```")
    assert all(p.startswith("```bash\n") for p in parts[1:-1])
    assert parts[-1].endswith("```\nDone.")


def test_atomic_spans_are_not_cut() -> None:
    link = "<https://example.org/a|a link with several words in it>"
    text = ("x " * 40 + link + " ") * 3
    parts = split(text, 100, atomic=re.compile(r"<[^<>]*>"))
    assert all(p.count("<") == p.count(">") for p in parts)


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    parts = split("a" * 250, 100)
    assert [len(p) for p in parts] == [100, 100, 50]


def test_too_small_a_limit_is_refused() -> None:
    with pytest.raises(ValueError):
        split("x" * 100, 10)


# -- Mattermost --------------------------------------------------------------------------------
SKILL = """
from bot.skill import Skill

skill = Skill("mmtest", "says a lot")
TEXT = {"long": ""}


@skill.command(r"^long$")
async def long(ctx):
    await ctx.reply(TEXT["long"])
"""


@pytest.fixture
async def peer() -> AsyncIterator[MattermostPeer]:
    async with MattermostPeer(max_post_size=400) as p:
        yield p


@pytest.fixture
def skills_pkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    root = tmp_path / "skillpath"
    monkeypatch.syspath_prepend(str(root))
    return write_skill_package(root, f"mmskills_{uuid.uuid4().hex[:8]}", SKILL)


def make_app(peer: MattermostPeer, tmp_path: Path, pkg: str, **mattermost: Any) -> Application:
    raw = bot_settings(peer, f"sqlite://{tmp_path / 'bot.sqlite3'}", [pkg], **mattermost)
    return Application(Settings.model_validate(raw), adapters=[MattermostAdapter], load_nlu=False)


def live(peer: MattermostPeer, channel: str) -> list[dict[str, Any]]:
    return sorted(
        (p for p in peer.bot_posts(channel) if not p["delete_at"]), key=lambda p: p["create_at"]
    )


async def test_peer_refuses_an_over_long_post_as_the_server_does(peer: MattermostPeer) -> None:
    import aiohttp

    town = peer.add_channel("town-square", members=[peer.bot_id])
    headers = {"Authorization": f"Bearer {peer.token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(
            f"{peer.url}/api/v4/posts", json={"channel_id": town, "message": "x" * 401}
        ) as resp:
            assert resp.status == 400 and (await resp.json())["id"] == LENGTH_ERROR
        async with session.get(f"{peer.url}/api/v4/config/client") as resp:
            assert resp.status == 501  # format=old is required
        async with session.get(f"{peer.url}/api/v4/config/client?format=old") as resp:
            assert (await resp.json())["MaxPostSize"] == "400"


async def test_long_reply_goes_out_in_parts_in_its_thread(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    alice = peer.add_user("alice")
    town = peer.add_channel("town-square", members=[alice, peer.bot_id])
    text = long_text()
    async with make_app(peer, tmp_path, skills_pkg) as app:
        sys.modules[f"{skills_pkg}.mmtest"].TEXT["long"] = text
        adapter = app.adapters["mattermost"]
        assert adapter.max_post_size == 400  # read from the server
        root = await peer.post_as(alice, town, "@quartermaster long")
        await peer.wait_for(lambda: len(peer.bot_posts(town)) >= 2)
        await app.dispatcher.join()
    parts = live(peer, town)
    assert len(parts) >= len(text) // 400
    assert all(len(p["message"]) <= 400 for p in parts)
    assert {p["root_id"] for p in parts} == {root["id"]}  # all in the asker's thread
    assert words([p["message"] for p in parts]) == words([text])  # in order, nothing lost
    # none of them was refused first: the bot never sent more than the server takes
    assert all(len(c.body["message"]) <= 400 for c in peer.calls_to("POST", r"/posts$"))


async def test_the_setting_applies_when_the_server_does_not_say(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    peer.publish_post_size = False
    town = peer.add_channel("town-square", members=[peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg, max_post_size=300) as app:
        adapter = app.adapters["mattermost"]
        assert adapter.max_post_size == 300
        await adapter.send(town, long_text(4))
    parts = live(peer, town)
    assert len(parts) > 1 and all(len(p["message"]) <= 300 for p in parts)
    assert {p["root_id"] for p in parts} == {""}  # a channel post stays one level


async def test_update_and_delete_reach_every_part_also_after_a_restart(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    town = peer.add_channel("town-square", members=[peer.bot_id])
    choices = [Choice("Approve", "mmtest.approve", "REQ-1", "primary")]
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        ref = await adapter.send(town, long_text(6), choices=choices)
        first = live(peer, town)
        assert ref.id == first[0]["id"] and len(first) >= 3
        buttons = [bool(p["props"].get("attachments")) for p in first]
        assert buttons == [False] * (len(first) - 1) + [True]  # buttons on the last part

        await adapter.update(ref, "Approved by alice.")  # shorter: one post is left
        now = live(peer, town)
        assert [p["id"] for p in now] == [ref.id]
        assert now[0]["message"] == "Approved by alice." and not now[0]["props"]["attachments"]

        await adapter.update(ref, long_text(6), choices=choices)  # longer again: parts added
        grown = live(peer, town)
        assert grown[0]["id"] == ref.id and len(grown) == len(first)
        assert grown[-1]["props"]["attachments"] and not grown[0]["props"]["attachments"]
    async with make_app(peer, tmp_path, skills_pkg) as app:  # the parts are remembered
        ids = [p["id"] for p in grown]
        assert await app.kv.get("mattermost.parts", ids[-1]) == ids  # in the kv store
        await app.adapters["mattermost"].delete(ref)
        assert [await app.kv.get("mattermost.parts", i) for i in ids] == [None] * len(ids)
    assert live(peer, town) == []


async def test_a_ref_to_the_last_part_stands_for_the_whole_message(
    peer: MattermostPeer, tmp_path: Path, skills_pkg: str
) -> None:
    from bot.events import PostedRef

    town = peer.add_channel("town-square", members=[peer.bot_id])
    async with make_app(peer, tmp_path, skills_pkg) as app:
        adapter = app.adapters["mattermost"]
        await adapter.send(town, long_text(4))
        last = live(peer, town)[-1]
        await adapter.delete(PostedRef("mattermost", town, last["id"]))  # e.g. a click's post
    assert live(peer, town) == []


# -- Slack ---------------------------------------------------------------------------------------
@pytest.fixture
async def slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[SlackPeer, Application]]:
    monkeypatch.syspath_prepend(str(tmp_path))
    peer = await SlackPeer().start()
    app = Application(
        settings_for(peer, tmp_path, write_slack_skills(tmp_path)),
        adapters=[SlackAdapter],
        load_nlu=False,
    )
    try:
        async with app:
            await peer.wait_connections(1)
            yield peer, app
    finally:
        await peer.close()


def slack_text(size: int) -> str:
    text = long_text(12) + "\n\nR&D <team> notes & more.\n\n"
    return (text * (size // len(text) + 1))[:size]


async def test_slack_text_beyond_40000_goes_out_in_parts_not_truncated(
    slack: tuple[SlackPeer, Application],
) -> None:
    peer, app = slack
    parent, _ = await peer.say("UALICE", "just chatting", "CGENERAL")
    text = slack_text(95_000)
    ref = await app.adapters["slack"].send("CGENERAL", text, thread=parent)
    posted = [p for p in peer.posted if not p.deleted]
    assert len(posted) == 3 and ref.id == posted[0].ts
    assert all(len(p.text) <= 40_000 and p.thread_ts == parent for p in posted)
    assert words([p.text for p in posted]) == words([escape(text)])  # nothing cut off
    assert all(
        p.text.count("&") == p.text.count("&amp;") + p.text.count("&lt;") + p.text.count("&gt;")
        for p in posted
    )  # no escape cut


async def test_slack_buttons_with_long_text_stay_within_block_limits(
    slack: tuple[SlackPeer, Application],
) -> None:
    peer, app = slack
    adapter = app.adapters["slack"]
    choices = [Choice("Approve", "slacktest.approve", "REQ-1", "primary")]
    ref = await adapter.send("CGENERAL", slack_text(160_000), choices=choices)
    posted = [p for p in peer.posted if not p.deleted]
    assert not [c for c in peer.calls_of("chat.postMessage") if c.error]  # none refused
    assert [bool(p.buttons) for p in posted] == [False] * (len(posted) - 1) + [True]
    sections = [b["text"]["text"] for b in posted[-1].blocks or () if b["type"] == "section"]
    assert all(len(t) <= 3000 and len(FENCE_LINE.findall(t)) % 2 == 0 for t in sections)

    await adapter.update(ref, "Approved.")  # one message left, no buttons
    left = [p for p in peer.posted if not p.deleted]
    assert [(p.ts, p.text, p.buttons) for p in left] == [(ref.id, "Approved.", [])]
    await adapter.delete(ref)
    assert not [p for p in peer.posted if not p.deleted]
