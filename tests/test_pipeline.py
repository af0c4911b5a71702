"""The path of a message: adapter → dispatcher → middleware → router → skill → reply."""

import logging

import pytest

from bot.testing import TestBot

PROBE_SKILL = """
from bot.events import Choice
from bot.errors import UserError
from bot.skill import Skill

skill = Skill("probe", "test handlers")

@skill.command(r"explode", help="explode — raise an unexpected error")
async def explode(ctx):
    raise RuntimeError("database password=hunter2 leaked into an exception")

@skill.command(r"refuse", help="refuse — raise a user error")
async def refuse(ctx):
    raise UserError("That size is too large: the limit is 10 TB.")

@skill.command(r"ops only", role="operator", help="ops only — needs the operator role")
async def ops_only(ctx):
    await ctx.reply("operating")

@skill.command(r"order (?P<n>\\d+)")
async def order(ctx):
    await ctx.reply("got " + ctx.match.group("n"))

@skill.command(r"choose", help="choose — offer choices")
async def choose(ctx):
    await ctx.reply("Pick one", choices=[Choice("Red", "probe.pick", "red"),
                                         Choice("Blue", "probe.pick", "blue")])

@skill.action("probe.pick")
async def picked(ctx):
    await ctx.reply(ctx.user_name + " picked " + ctx.interaction.value)

@skill.command(r"ask name")
async def ask(ctx):
    await ctx.expect("probe.name", {"asked": True})
    await ctx.reply("What's your name?")

@skill.followup("probe.name")
async def name(ctx):
    await ctx.done()
    await ctx.reply("Nice to meet you, " + ctx.message.text)
"""


@pytest.fixture
async def bot(tmp_path, skill_pkg):
    skill_pkg.write("probe", PROBE_SKILL)
    async with TestBot.create(
        tmp_path, overrides={"skills.packages": ["skills", skill_pkg.name]}
    ) as bot:
        yield bot


async def test_ping_in_a_dm(bot):
    replies = await bot.say("alice", "ping")
    assert [r.text for r in replies] == ["pong"]
    assert replies[0].channel == "dm:alice"


async def test_channel_message_needs_a_mention_and_is_answered_in_thread(bot):
    assert await bot.say("alice", "ping", channel="general", mention=False) == []
    replies = await bot.say("alice", "ping", channel="general", mention=True)
    assert [r.text for r in replies] == ["pong"]
    assert replies[0].channel == "general"
    assert replies[0].thread is not None  # answered in the thread of the message
    assert bot.app.stats.ignored == 1


async def test_whoami_reports_roles(bot):
    await bot.grant("alice", "staff")
    (reply,) = await bot.say("alice", "whoami")
    assert "test:alice" in reply.text
    assert "researcher" in reply.text and "staff" in reply.text


async def test_help_is_generated_and_filtered_by_role(bot):
    (plain,) = await bot.say("bob", "help")
    assert "`ping`" in plain.text and "`choose`" in plain.text
    assert "reload skills" not in plain.text and "ops only" not in plain.text
    await bot.grant("carol", "admin")
    (admin,) = await bot.say("carol", "help")
    assert "`reload skills`" in admin.text and "`ops only`" in admin.text
    (topic,) = await bot.say("bob", "help choose")
    assert "`choose`" in topic.text and "`ping`" not in topic.text


async def test_missing_role_is_refused_politely_and_audited(bot):
    (reply,) = await bot.say("bob", "ops only")
    assert reply.text.startswith("Sorry, `ops only` needs the operator role")
    assert "researcher" in reply.text
    await bot.grant("olga", "operator")
    (ok,) = await bot.say("olga", "ops only")
    assert ok.text == "operating"
    await bot.app.audit.flush()
    from bot.storage.models import AuditEvent

    denied = await AuditEvent.filter(kind="denied").values_list("actor", flat=True)
    assert denied == ["test:bob"]


async def test_user_error_is_shown_verbatim(bot):
    (reply,) = await bot.say("alice", "refuse")
    assert reply.text == "That size is too large: the limit is 10 TB."


async def test_unexpected_error_is_an_apology_with_a_reference_and_a_redacted_log(bot, caplog):
    caplog.set_level(logging.ERROR)
    (reply,) = await bot.say("alice", "explode")
    assert reply.text.startswith("Sorry, something went wrong on my side (ref `")
    assert "Traceback" not in reply.text and "hunter2" not in reply.text
    ref = reply.text.split("`")[1]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)
    assert bot.app.stats.errors == 1
    # the bot keeps working
    assert (await bot.say("alice", "ping"))[0].text == "pong"


async def test_unknown_text_gets_the_fallback(bot):
    (reply,) = await bot.say("alice", "frobnicate the widgets")
    assert "didn't understand" in reply.text and "help" in reply.text


async def test_choices_become_interactions(bot):
    (offer,) = await bot.say("alice", "choose", channel="general")
    assert offer.labels == ["Red", "Blue"]
    (answer,) = await bot.click("bob", offer, "Blue")
    assert answer.text == "bob picked blue"


async def test_stale_choice_is_answered_not_crashed(bot):
    (offer,) = await bot.say("alice", "choose")
    from bot.events import Interaction

    await bot.app.process(
        Interaction("test", "alice", "alice", "dm:alice", "gone.action", "x", direct=True)
    )
    assert "no longer handle" in bot.sent[-1].text
    assert offer.labels == ["Red", "Blue"]


async def test_followup_dialogue_and_cancel(bot):
    (q,) = await bot.say("alice", "ask name")
    assert q.text == "What's your name?"
    (a,) = await bot.say("alice", "Alice Liddell")
    assert a.text == "Nice to meet you, Alice Liddell"
    await bot.say("alice", "ask name")
    (c,) = await bot.say("alice", "cancel")
    assert c.text.startswith("OK, cancelled")
    (n,) = await bot.say("alice", "cancel")
    assert n.text == "There's nothing in progress to cancel."


async def test_followup_in_a_channel_thread_needs_no_mention(bot):
    await bot.say("alice", "ask name", channel="general", thread="t1")
    (a,) = await bot.say("alice", "Alice", channel="general", thread="t1", mention=False)
    assert a.text == "Nice to meet you, Alice"


async def test_conversation_state_survives_a_restart(tmp_path, skill_pkg):
    skill_pkg.write("probe", PROBE_SKILL)
    overrides = {"skills.packages": ["skills", skill_pkg.name]}
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        await bot.say("alice", "ask name")
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        (a,) = await bot.say("alice", "Alice")
        assert a.text == "Nice to meet you, Alice"


async def test_messages_of_one_conversation_are_handled_in_order(bot):
    import asyncio

    from bot.events import Message

    for n in range(50):
        await bot.app.receive(
            Message("test", "alice", "alice", "dm:alice", f"order {n}", direct=True)
        )
    await bot.app.dispatcher.join()
    assert [s.text for s in bot.sent] == [f"got {n}" for n in range(50)]
    await asyncio.sleep(0)


async def test_rate_limit_warns_once_and_drops(tmp_path):
    async with TestBot.create(
        tmp_path,
        overrides={
            "rate_limit.enabled": True,
            "rate_limit.messages": 3,
            "rate_limit.per_seconds": 60,
        },
    ) as bot:
        for _ in range(6):
            await bot.say("alice", "ping")
        texts = [s.text for s in bot.sent]
        assert texts.count("pong") == 3
        assert sum("faster than I can take them" in t for t in texts) == 1
        # other users are not affected
        assert (await bot.say("bob", "ping"))[0].text == "pong"
        assert bot.app.stats.rate_limited == 3


async def test_outbound_redaction_of_known_token_formats(bot):
    await bot.app.notify("test:alice", "your token is xoxb-123456789012-abcdefghijkl")
    assert bot.sent[-1].text == "your token is [redacted]"


async def test_one_person_across_platforms_shares_roles_and_is_notified(tmp_path):
    overrides = {"identities": {"alice": ["slack:U1", "test:alice"]}}
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        await bot.app.roles.grant("slack:U1", "management", by="test")
        (reply,) = await bot.say("alice", "whoami")
        assert "management" in reply.text  # granted on Slack, holds here too
        assert bot.app.roles.person_of("test:alice") == "person:alice"
        await bot.app.notify("person:alice", "your request was approved")
        assert bot.dms_to("alice")[-1].text == "your request was approved"
        assert await bot.app.notify("person:nobody", "x") is None


def test_an_account_may_belong_to_one_person_only(tmp_path):
    from bot.config import Settings

    with pytest.raises(ValueError, match="slack:U1 is listed for both alice and bob"):
        Settings.model_validate({"identities": {"alice": ["slack:U1"], "bob": ["slack:U1"]}})
    with pytest.raises(ValueError, match="must be platform:id"):
        Settings.model_validate({"identities": {"alice": ["U1"]}})
