"""The vault chat flow end to end through TestBot: DM move, paste, list, replace, delete, refusal.

Every test ends by grepping everything the bot sent, every log record, every audit and
conversation row (and, on SQLite, the raw database file) for the plaintext.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.context import Context
from bot.conversations import ConversationKey
from bot.events import Message, PostedRef
from bot.middleware import Next
from bot.services import SECRETS
from bot.storage.models import AuditEvent, Conversation
from bot.testing import TestBot
from credentials.keys import ENV_VAR
from credentials.models import SealedSecret
from credentials.vault import VAULT, Vault

OPENSTACK = "gAAAAABl" + "x7Yz_Qw-9" * 12  # a keystone-style token
REPLACEMENT = "s3cr3t-Replacement-Value-8812"
GH = "ghp_" + "aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
PLAIN_PASSWORD = "correct horse battery staple"  # not secret-looking: only the flow hides it


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


#: what every later stage (other middleware, routing, NLU, handlers) got as message text
SEEN_DOWNSTREAM: list[str] = []


async def _downstream(ctx: Context, call_next: Next) -> None:
    if isinstance(ctx.event, Message):
        SEEN_DOWNSTREAM.append(ctx.event.text)
        SEEN_DOWNSTREAM.append(repr(ctx.event.raw))
    await call_next(ctx)


async def _start(
    tmp_path: Path, url: str | None = None, **overrides: object
) -> AsyncIterator[tuple[TestBot, list[PostedRef]]]:
    bot = TestBot.create(tmp_path, database_url=url, overrides=overrides)
    SEEN_DOWNSTREAM.clear()
    async with bot:
        assert bot.adapter is not None
        bot.app.use(_downstream)  # installed after the vault's guard
        deleted: list[PostedRef] = []
        original = bot.adapter.delete

        async def delete(ref: PostedRef) -> None:  # record, then do what the adapter does
            deleted.append(ref)
            await original(ref)

        bot.adapter.delete = delete  # type: ignore[method-assign]
        yield bot, deleted


async def _leaks(bot: TestBot, caplog: pytest.LogCaptureFixture, *values: str) -> list[str]:
    """Every place a plaintext value shows up outside the vault's sealed column."""
    await bot.app.audit.flush()
    places = []
    for sent in bot.sent:
        places += [f"sent {sent.channel}: {t}" for t in (sent.text, *sent.edits)]
    places += [f"log: {r.getMessage()}" for r in caplog.records]
    places += [f"audit: {row}" for row in await AuditEvent.all().values()]
    places += [
        f"conversation: {json.dumps(row, default=str)}" for row in await Conversation.all().values()
    ]
    places += [f"downstream: {text}" for text in SEEN_DOWNSTREAM]
    places += [
        f"vault row: {row}" for row in await SealedSecret.all().values("owner", "name", "provider")
    ]
    return [p for p in places for v in values if v in p]


def _sqlite_file_leaks(tmp_path: Path, *values: str) -> list[str]:
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("*.sqlite3*"))
    assert raw, f"no SQLite database under {tmp_path}"
    return [v for v in values if v.encode() in raw]


async def test_store_list_replace_delete_from_a_channel(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, deleted in _start(tmp_path, db_url):
        out = await bot.say("alice", "store my openstack token", channel="general")
        in_channel = [s for s in out if s.channel == "general"]
        asked = [s for s in out if s.dm_to == "alice"]
        assert len(in_channel) == 1 and "direct message" in in_channel[0].text
        assert len(asked) == 1 and "Paste your openstack secret" in asked[0].text

        out = await bot.say("alice", f"  {OPENSTACK}\n")
        assert len(out) == 1 and "Stored your `openstack` secret (version 1)" in out[0].text
        assert [r.id for r in deleted] == ["t2"]  # the pasted DM, where possible
        assert SEEN_DOWNSTREAM[-2] == "[secret sealed by the vault]"
        vault = bot.app.services[VAULT]
        assert isinstance(vault, Vault)
        assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == OPENSTACK

        out = await bot.say("alice", "vault list")
        assert "`openstack` (openstack)" in out[0].text and "version 1" in out[0].text
        assert "last used" in out[0].text

        out = await bot.say("alice", "replace my openstack token", channel="general")
        assert any("It replaces the one you stored" in s.text for s in out if s.dm_to)
        out = await bot.say("alice", f"```\n{REPLACEMENT}\n```")
        assert "Replaced your `openstack` secret (version 2)" in out[0].text
        assert (await vault.use("test:alice", "openstack", skill="vm")).reveal() == REPLACEMENT

        out = await bot.say("alice", "delete my openstack secret")
        assert out[0].labels == ["Delete", "Keep"]
        out = await bot.click("alice", out[0], "Delete")
        assert "Deleted your `openstack` secret" in out[0].text
        out = await bot.say("alice", "my secrets")
        assert "no secrets" in out[0].text
        assert await _leaks(bot, caplog, OPENSTACK, REPLACEMENT) == []
    if db_url.startswith("sqlite"):
        assert _sqlite_file_leaks(tmp_path, OPENSTACK, REPLACEMENT) == []


async def test_a_secret_posted_in_a_channel_is_refused_deleted_and_never_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, deleted in _start(tmp_path):
        out = await bot.say("bob", f"here you go, my token is {GH}", channel="general")
        assert [s.channel for s in out] == ["dm:bob"]  # nothing said in the channel
        assert "GitHub token" in out[0].text and "revoke it now" in out[0].text
        assert "I deleted it" in out[0].text
        assert [(r.channel, r.id) for r in deleted] == [("general", "t1")]
        assert SEEN_DOWNSTREAM == []  # not passed on at all
        assert await SealedSecret.all().count() == 0
        await bot.app.audit.flush()
        refused = await AuditEvent.get(kind="vault.refused")
        assert refused.actor == "test:bob" and refused.detail["deleted"] is True
        assert not await AuditEvent.filter(kind="fallback").exists()
        assert await _leaks(bot, caplog, GH) == []
    assert _sqlite_file_leaks(tmp_path, GH) == []


async def test_a_secret_in_a_channel_is_caught_even_without_a_mention(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, deleted in _start(tmp_path):
        assert await bot.say("bob", "lunch at noon?", channel="general", mention=False) == []
        out = await bot.say("bob", f"fyi the CI token is {GH}", channel="general", mention=False)
        assert [s.channel for s in out] == ["dm:bob"]
        assert "GitHub token" in out[0].text and "revoke it now" in out[0].text
        assert [(r.channel, r.id) for r in deleted] == [("general", "t2")]
        assert SEEN_DOWNSTREAM == []
        assert bot.app.stats.ignored == 1  # the lunch chatter
        assert await SealedSecret.all().count() == 0
        assert await _leaks(bot, caplog, GH) == []


async def test_a_secret_sent_in_a_dm_without_being_asked_is_not_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, _ in _start(tmp_path):
        out = await bot.say("carol", f"token={GH}")
        assert "didn't keep it" in out[0].text and "store my <service> token" in out[0].text
        assert await SealedSecret.all().count() == 0
        assert await _leaks(bot, caplog, GH) == []


async def test_an_answer_that_does_not_look_secret_is_still_sealed_and_hidden(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, _ in _start(tmp_path):
        await bot.say("dave", "please save my hpc password as login")
        out = await bot.say("dave", PLAIN_PASSWORD)
        assert "Stored your `login` secret" in out[0].text
        vault = bot.app.services[VAULT]
        assert (await vault.use("test:dave", "login", skill="ssh")).reveal() == PLAIN_PASSWORD
        out = await bot.say("dave", f"my password is {PLAIN_PASSWORD}")  # remembered now
        assert await _leaks(bot, caplog, PLAIN_PASSWORD) == []


async def test_a_bad_paste_asks_again_and_a_command_is_not_taken_as_the_answer(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async for bot, _ in _start(tmp_path, **{"vault.max_secret_bytes": 24}):
        await bot.say("erin", "store my aws key")
        out = await bot.say("erin", "my secrets")  # a command, not the answer
        assert "no secrets" in out[0].text
        out = await bot.say("erin", "x" * 25)
        assert "longer than the 24 bytes" in out[0].text and "Paste it again" in out[0].text
        out = await bot.say("erin", "AKIAIOSFODNN7EXAMPLE")
        assert "Stored your `aws` secret" in out[0].text
        out = await bot.say("erin", "store my token")
        assert "Which service" in out[0].text
        out = await bot.say("erin", "replace my gcp key")
        assert "no secret called `gcp`" in out[0].text
        assert await _leaks(bot, caplog, "x" * 25, "AKIAIOSFODNN7EXAMPLE") == []


async def test_help_while_waiting_is_help_and_the_question_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The router's fallbacks win over the paste follow-up, and the guard seals only what the
    router routes to it."""
    async for bot, _ in _start(tmp_path):
        await bot.say("hal", "store my github token")
        out = await bot.say("hal", "help")
        assert out[0].text.startswith("Here's what I can do for you")
        assert not await SealedSecret.all().exists()
        out = await bot.say("hal", GH)
        assert "Stored your `github` secret" in out[0].text
        assert await _leaks(bot, caplog, GH) == []


async def test_cancel_while_waiting_stores_nothing(tmp_path: Path) -> None:
    async for bot, _ in _start(tmp_path):
        await bot.say("fay", "store my github token")
        out = await bot.say("fay", "cancel")
        assert out[0].text == "OK, cancelled. Nothing was stored."  # not "nothing was filed"
        out = await bot.say("fay", "just chatting now")
        assert not await SealedSecret.all().exists()


async def test_a_late_answer_is_not_kept(tmp_path: Path) -> None:
    async for bot, _ in _start(tmp_path, **{"conversations.timeout_minutes": 0.004}):
        await bot.say("gus", "store my openstack token")
        await asyncio.sleep(0.35)
        out = await bot.say("gus", "help")  # a command is still a command
        assert "stopped waiting" not in out[0].text
        out = await bot.say("gus", OPENSTACK)
        assert "stopped waiting" in out[0].text
        assert not await SealedSecret.all().exists()
        assert all(OPENSTACK not in s.text for s in bot.sent)


async def test_skills_use_secrets_only_through_the_audited_api(tmp_path: Path) -> None:
    async for bot, _ in _start(tmp_path):
        await bot.say("alice", "store my openstack token")
        await bot.say("alice", OPENSTACK)
        vault = bot.app.services[VAULT]
        secret = await vault.use("test:alice", "openstack", skill="vm")
        assert str(secret) == "[secret]" and OPENSTACK not in repr(secret)
        await bot.app.audit.flush()
        use = await AuditEvent.get(kind="vault.use")
        assert (use.actor, use.target, use.detail["skill"]) == (
            "test:alice",
            "test:alice/openstack",
            "vm",
        )
        # admins have no command that shows a value, and the bot never echoes one
        await bot.grant("root", "admin")
        for text in ("vault list", "my secrets", "help", "roles"):
            out = await bot.say("root", text)
            assert all(OPENSTACK not in s.text for s in out)


async def test_reloading_skills_keeps_one_vault_and_one_guard(tmp_path: Path) -> None:
    async for bot, deleted in _start(tmp_path):
        before = bot.app.services[VAULT]
        report = await bot.app.reload_skills()
        assert report.ok, report.failed
        assert isinstance(bot.app.services[VAULT], Vault)
        assert bot.app.services[VAULT] is not before
        out = await bot.say("bob", f"token {GH}", channel="ops")
        assert len(out) == 1 and len(deleted) == 1  # refused once, not once per reload


TINY_NLU = """\
version: "3.1"
nlu:
- intent: store_credential
  examples: |
    - add my [openstack](provider) token
    - I want to store my [aws](provider) credentials
    - here's my new [gcp](provider) key
    - rotate my [azure](provider) secret
    - delete my [aws](provider) keys
    - keep my [openstack](provider) application credential safe
    - put my [aws](provider) access key in the vault
    - remove the stored [gcp](provider) credentials
- intent: greet
  examples: |
    - hi
    - hello
    - thanks
    - good morning
    - hey there
    - thank you
- intent: out_of_scope
  examples: |
    - what's the weather
    - tell me a joke
    - order a pizza
    - play some music
    - what is the capital of peru
    - who won the match
"""


def _tiny_nlu_bot(tmp_path: Path) -> TestBot:
    """A bot whose model is trained on TINY_NLU (seconds), for the plain-language paths."""
    data = tmp_path / "nlu-data"
    data.mkdir()
    (data / "nlu.yml").write_text(TINY_NLU, encoding="utf-8")
    (data / "config.yml").write_text("embedded:\n  intent:\n    folds: 2\n", encoding="utf-8")
    nlu = {"backend": "embedded", "data": str(data), "model_dir": str(tmp_path / "model")}
    return TestBot.create(tmp_path, load_nlu=True, overrides={"nlu": nlu})


async def test_plain_language_goes_through_the_nlu_intent(tmp_path: Path) -> None:
    bot = _tiny_nlu_bot(tmp_path)
    async with bot:
        out = await bot.say(
            "hana",
            "could you put my openstack application credential in the vault",
            channel="general",
        )
        assert any("direct message" in s.text for s in out if s.channel == "general")
        assert any("Paste your openstack secret" in s.text for s in out if s.dm_to == "hana")
        out = await bot.say("hana", OPENSTACK)
        assert "Stored your `openstack` secret" in out[0].text
        out = await bot.say("hana", "please remove the stored openstack credentials now")
        assert out[0].labels == ["Delete", "Keep"]
        assert all(OPENSTACK not in s.text for s in bot.sent)


async def test_with_broken_keys_channels_stay_guarded_and_users_are_told(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-such.key"
    async for bot, deleted in _start(tmp_path, **{"vault.key_file": str(missing)}):
        assert VAULT not in bot.app.services and SECRETS not in bot.app.services
        assert any(
            f"vault.key_file: {missing} does not exist" in r.getMessage() for r in caplog.records
        )
        out = await bot.say("bob", f"my token is {GH}", channel="general")
        assert [s.dm_to for s in out] == ["bob"] and "revoke" in out[0].text
        assert len(deleted) == 1
        out = await bot.say("bob", "store my github token")
        assert "vault isn't available" in out[0].text


USING_SKILL = """
from bot.skill import Skill

skill = Skill("cloudtest", "uses the requester's openstack secret")


@skill.command(r"boot a vm")
async def boot(ctx):
    secret = await ctx.secret("openstack")
    await ctx.reply(f"booting with {secret} ({len(secret)} characters)")
"""


async def test_a_skill_gets_only_the_requesters_secret_and_the_use_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    root = tmp_path / "skillpath"
    (root / "vaultuser").mkdir(parents=True)
    (root / "vaultuser" / "__init__.py").write_text("")
    (root / "vaultuser" / "cloud.py").write_text(USING_SKILL)
    monkeypatch.syspath_prepend(str(root))
    async for bot, _ in _start(tmp_path, **{"skills.packages": ["skills", "vaultuser"]}):
        await bot.say("alice", "store my openstack token")
        await bot.say("alice", OPENSTACK)
        out = await bot.say("alice", "boot a vm", channel="general")
        assert out[0].text == f"booting with [secret] ({len(OPENSTACK)} characters)"
        out = await bot.say("bob", "boot a vm", channel="general")
        assert "You have no secret called 'openstack'" in out[0].text
        await bot.app.audit.flush()
        uses = (
            await AuditEvent.filter(kind="vault.use")
            .order_by("id")
            .values_list("actor", "outcome", "detail")
        )
        assert [(a, o, d["skill"]) for a, o, d in uses] == [
            ("test:alice", "ok", "cloudtest"),
            ("test:bob", "missing", "cloudtest"),
        ]
        assert await _leaks(bot, caplog, OPENSTACK) == []


async def test_without_a_vault_ctx_secret_is_a_clear_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core finds secrets only through the SECRETS service key: no vault, a plain reply."""
    root = tmp_path / "skillpath"
    (root / "novault").mkdir(parents=True)
    (root / "novault" / "__init__.py").write_text("")
    (root / "novault" / "cloud.py").write_text(USING_SKILL)
    monkeypatch.syspath_prepend(str(root))
    async for bot, _ in _start(
        tmp_path, **{"skills.packages": ["skills", "novault"], "skills.disabled": ["credentials"]}
    ):
        assert SECRETS not in bot.app.services
        out = await bot.say("alice", "boot a vm")
        assert len(out) == 1 and out[0].text == (
            "The vault isn't available right now, so I can't use your openstack secret; an "
            "admin can see why in my log."
        )


async def test_asking_to_see_a_secret_never_starts_storing_one(tmp_path: Path) -> None:
    """Issue #12 item 5, through the NLU: nobody reads a secret in chat, a store dialogue starts
    only when storing is asked for, and a sentence typed as the answer is not sealed."""
    bot = _tiny_nlu_bot(tmp_path)
    async with bot:
        (out,) = await bot.say("root", "show me alice's openstack token")
        assert out.text.startswith("Nobody can read a stored secret in chat")
        assert (
            bot.app.conversations.peek(ConversationKey("test", "dm:root", None, "root")) is None
        )  # no paste question pending
        (out,) = await bot.say("hana", "my openstack token")
        assert out.text.startswith("Do you want me to keep your openstack secret for you?")
        await bot.say("hana", "store my openstack token")
        (out,) = await bot.say("hana", "no I wanted to SEE alice's token, not store mine")
        assert out.text.startswith("That reads like a sentence, not a token")
        assert not await SealedSecret.all().exists()
        (out,) = await bot.say("hana", f"`{OPENSTACK}`")
        assert "Stored your `openstack` secret" in out.text
