"""Input bounds, the rest of issue #13 item 9, through the message path on SQLite and PostgreSQL:
absurd sizes, counts and durations and over-long ids and names get a clear answer that names the
field and its limit and stores nothing; replies never echo the whole input; replies that grow
with data (status, history, lists, search) stay within a post and long histories are paged."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from bot.adapters.memory import dm_channel
from bot.bounds import REPLY
from bot.events import ConversationKey, Interaction
from bot.storage.models import Request, RequestEvent, RoleGrant, User
from bot.testing import TestBot

FILES_TYPE = """
    title: Inode quota
    aliases: [files]
    channel: helpdesk
    fields:
      count:
        type: integer
        label: File count
        question: How many files?
      space:
        type: size
        label: Space
        question: How much space?
      keep:
        type: duration
        label: Keep for
        question: For how long?
      where:
        type: path
        label: Where
        question: Which folder?
    states:
      submitted: {label: waiting for approval}
      completed: {terminal: true}
    transitions:
      complete: {from: submitted, to: completed, past: completed, allow: [{roles: [staff]}]}
"""
SHORT = 300  # an error reply is a sentence or two, whatever was typed


@pytest.fixture
async def bot(tmp_path: Path, db_url: str):
    """The shipped request types plus one with an integer, a size, a duration and a path field
    that have no limits of their own (only the absolute ones apply)."""
    shipped = Path(__file__).resolve().parents[1] / "config" / "workflows"
    workflows = tmp_path / "workflows"
    shutil.copytree(shipped, workflows)
    (workflows / "files.yml").write_text(textwrap.dedent(FILES_TYPE))
    async with TestBot.create(
        tmp_path, database_url=db_url, overrides={"workflows.dir": str(workflows)}
    ) as bot:
        await bot.grant("sam", "staff")
        await bot.grant("ada", "admin")
        await bot.grant("hana", "helpdesk")
        yield bot


async def texts(bot: TestBot, user: str, text: str) -> list[str]:
    out = [s.text for s in await bot.say(user, text)]
    for reply in out:
        assert "went wrong" not in reply, (text[:60], reply)
    return out


async def file_quota(bot: TestBot, user: str = "alice") -> Request:
    await bot.say(user, "request quota")
    for answer in ("1TB", "/project/alice", "data", "yes"):
        await bot.say(user, answer)
    req = await Request.filter().order_by("-id").first()
    assert req is not None
    return req


def draft_of(bot: TestBot, user: str) -> dict[str, object]:
    """The fields of ``user``'s pending draft in their DM, as stored."""
    state = bot.app.conversations.peek(ConversationKey("test", dm_channel(user), None, user))
    return dict(((state or {}).get("data") or {}).get("fields") or {})


async def test_absurd_sizes_counts_and_durations_are_refused_naming_field_and_limit(
    bot: TestBot,
) -> None:
    cases = [  # (message, what the answer says)
        (
            "request quota 99999999999999 PB on /project/x",
            "more than the maximum for Size (100 TB)",
        ),
        ("request quota size=-5TB", "Size can't be negative (the least is 1 GB)"),
        ("request quota size=0TB", "Size must be more than zero (the least is 1 GB)"),
        ("request quota size=1e400TB", "'1e400TB' isn't a size I understand"),
        ("request quota size=" + "9" * 400 + "PB", "(402 characters) isn't a size I understand"),
        ("request files count=99999999999999999999", "File count can be at most 9,223,372,036,"),
        ("request files count=-3", "File count can't be negative"),
        ("request files space=99999999999999PB", "Space can be at most 1000 PB"),
        ('request files keep="99999999 years"', "Keep for can be at most ten years"),
    ]
    for message, expected in cases:
        out = await texts(bot, "alice", message)
        assert expected in out[0], (message[:60], out[0])
        assert len(out[0]) < SHORT, message[:60]
        await bot.say("alice", "cancel")
    # typed as answers to the question, the same limits hold and nothing is kept
    await bot.say("alice", "request files")
    for answer, expected in [
        ("99999999999999999999", "File count can be at most 9,223,372,036,854,775,807."),
        ("9" * 5000, "isn't a whole number"),
        ("-12", "File count can't be negative."),
    ]:
        out = await texts(bot, "alice", answer)
        assert out[0].startswith(expected) or expected in out[0], out[0]
        assert len(out[0]) < SHORT
        assert "count" not in draft_of(bot, "alice")
    assert not await Request.exists()


async def test_over_long_ids_and_names_are_refused_and_nothing_is_stored(bot: TestBot) -> None:
    req = await file_quota(bot)
    long_ref = "REQ-" + "9" * 20
    for message in (
        f"status of {long_ref}",
        f"history of {long_ref}",
        f"comment {long_ref} hello",
        f"approve {long_ref}",
        f"edit {long_ref} size=2TB",
    ):
        (out,) = await texts(bot, "sam", message)
        assert out == (
            f"{long_ref} is not a request: request numbers have at most 9 digits (like REQ-12)."
        ), message
    # a forged button value with a number past the database's integer ids (PostgreSQL: int4)
    start = len(bot.sent)
    await bot.app.process(
        Interaction(
            "test", "sam", "sam", dm_channel("sam"), "workflow.transition", "9" * 20 + ":approve"
        )
    )
    assert [s.text for s in bot.sent[start:]] == [
        "That button is broken; say `status of REQ-<n>` instead."
    ]
    name = "b" * 300
    (out,) = await texts(bot, "sam", f"assign {req.ref} to {name}")
    assert out.startswith("That can't be a user: a user id has at most 100 characters")
    (out,) = await texts(bot, "ada", f"grant {name} staff")
    assert out.startswith("That can't be a user: a user id has at most 100 characters")
    (out,) = await texts(bot, "hana", f"request quota for @{name}")
    assert out.startswith("That can't be a user")
    for query in (f"requester:{name}", f"from {name}", f"assignee:{name}"):  # found by the fuzzer
        (out,) = await texts(bot, "sam", f"search requests {query}")
        assert out.startswith("That can't be a user"), query
    (out,) = await texts(bot, "alice", f"store my {'p' * 300} token")
    assert "can't be a secret" in out and len(out) < SHORT
    await bot.say("alice", "request quota")
    await bot.say("alice", "1TB")
    (out,) = await texts(bot, "alice", "/project/" + "a" * 10_000)
    assert out.startswith("Path can be at most 1,024 characters (yours has 10,009).")
    assert "path" not in draft_of(bot, "alice")
    for reply in (s.text for s in bot.sent):
        assert name not in reply and "a" * 200 not in reply
    await req.refresh_from_db()
    assert req.assignee is None and not await RequestEvent.filter(action="approve").exists()
    assert not await RoleGrant.filter(role="staff", subject__contains="bbbb").exists()
    assert not await User.filter(platform_id__contains="bbbb").exists()


async def test_error_replies_quote_a_bounded_excerpt_of_the_input(bot: TestBot) -> None:
    req = await file_quota(bot)
    payload = "q" * 5000
    messages = [
        ("alice", f"request {payload}", "I don't know a qqqq"),
        ("alice", f"edit {req.ref} {payload}=4", "Storage quota has no field 'qqqq"),
        ("sam", f"frobnicate{payload} {req.ref}", "has no step 'frobnicateqqqq"),
        ("sam", f"search requests {'q' * 400}>3", "No request has a field 'qqqq"),
        ("sam", f"search requests {payload}", "A search can be at most 500 characters"),
        ("alice", f"help {payload}", "I have nothing about 'qqqq"),
        ("alice", "request quota", "How much additional space"),
        ("alice", payload, "(5,000 characters) isn't a size I understand"),
        ("alice", f"actually make it {'9' * 5000} TB", "isn't a size I understand"),
    ]
    for user, message, expected in messages:
        out = await texts(bot, user, message)
        assert expected in out[0], (message[:40], out[0])
        assert len(out[0]) < SHORT, (message[:40], len(out[0]))
        assert "q" * 100 not in out[0] and "9" * 100 not in out[0]


async def test_status_and_history_stay_within_a_post_and_history_is_paged(bot: TestBot) -> None:
    req = await file_quota(bot)
    for i in range(44):
        await bot.say("alice", f"comment {req.ref} note {i:02d} " + "c" * 1900)
    # a comment from before comments were limited: the 337,792-character status of the issue
    await RequestEvent.create(
        request=req,
        action="commented",
        from_state=req.state,
        to_state=req.state,
        comment="x" * 300_000,
    )
    (status,) = await texts(bot, "alice", f"status of {req.ref}")
    assert len(status) <= REPLY
    assert f"the last 5 of 46 entries; say `history {req.ref}` for more" in status
    assert "note 43" in status and "note 38" not in status and "x" * 301 not in status

    (page1,) = await texts(bot, "alice", f"history {req.ref}")
    assert len(page1) <= REPLY
    assert "entries 27–46 of 46, page 1 of 3 (page 1 is the newest)" in page1.splitlines()[0]
    assert page1.splitlines()[-1] == f"Say `history {req.ref} page 2` for earlier entries."
    assert "note 43" in page1 and "note 24" not in page1
    (page3,) = await texts(bot, "alice", f"history of {req.ref} page 3")
    assert "entries 1–6 of 46, page 3 of 3" in page3
    assert "submitted by alice" in page3 and "earlier entries" not in page3
    (beyond,) = await texts(bot, "alice", f"history {req.ref} page 9")
    assert beyond == (
        f"The history of {req.ref} has 3 pages of 20 entries; "
        f"say `history {req.ref} page 3` for the oldest."
    )


async def test_lists_and_search_are_capped(bot: TestBot) -> None:
    alice = await bot.app.users.ensure("test", "alice", "alice")
    await bot.say("alice", "ping")
    for _ in range(70):
        await Request.create(
            type="software_install",
            state="submitted",
            requester=alice,
            filed_by=alice,
            fields_data={"software": "s" * 5000, "cluster": "grace"},  # from before the limits
        )
    (mine,) = await texts(bot, "alice", "my requests")
    assert len(mine) <= REPLY and "… and 20 older ones" in mine
    assert len(mine.splitlines()) == 52 and "s" * 101 not in mine
    found = await texts(bot, "sam", "search requests type:software_install")
    assert found[0].startswith("70 request(s):") and len(found[0]) <= REPLY
    assert "… and 40 more" in found[0]
    waiting = await texts(bot, "sam", "what's waiting for me")
    assert len(waiting[0]) <= REPLY and "… and 20 more" in waiting[0]
    (status,) = await texts(bot, "alice", "status of REQ-1")
    assert len(status) <= REPLY and "s" * 601 not in status


async def test_the_roles_listing_is_capped(bot: TestBot) -> None:
    for i in range(300):
        await bot.app.roles.grant(f"test:{'u' * 60}{i:03d}", "staff", by="test", source="cli")
    (out,) = await texts(bot, "ada", "roles")
    assert len(out) <= REPLY
    assert out.splitlines()[-1].endswith("more (`quartermaster roles list` has all)")


async def test_a_long_request_number_in_plain_language_is_refused_not_truncated(
    tmp_path: Path, nlu_model_dir: Path
) -> None:
    """The model's request_id entity keeps nine digits: "approve REQ-99999999999999999999" must
    not be restated as approving REQ-999999999 (which may exist)."""
    overrides = {"nlu": {"backend": "embedded", "model_dir": str(nlu_model_dir)}}
    async with TestBot.create(tmp_path, load_nlu=True, overrides=overrides) as bot:
        await bot.grant("sam", "staff")
        for who, text in [
            ("sam", "please approve REQ-99999999999999999999"),
            ("alice", "what is the status of request 99999999999999999999"),
        ]:
            (out,) = await texts(bot, who, text)
            assert out == (
                "REQ-99999999999999999999 is not a request: request numbers have at most "
                "9 digits (like REQ-12)."
            ), text
