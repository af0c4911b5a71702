"""A lost master key: the bot refuses to start, `vault recover` retires what nobody can open and
the owners are told; a secret that cannot be opened is answered with a sentence, not an apology."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.errors import StartupRefused
from bot.storage.db import close_database, open_database
from bot.storage.models import AuditEvent
from bot.testing import TestBot
from credentials.keys import DEFAULT_FILE, ENV_VAR, generate, read_key_file, write_key_file
from credentials.models import DataKey, SealedSecret
from credentials.vault import Vault

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (ENV_VAR, "QUARTERMASTER_CONFIG")}
    return {**env, "QUARTERMASTER_HOME": str(home), "USER": "tester"}


def _qm(config: Path, home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(home),
        cwd=ROOT,
    )


async def _seed(url: str, key_file: Path) -> str:
    """alice's secrets sealed under a master key that is then lost; bob's under the kept one.
    Returns the lost key's id."""
    lost, kept = generate(), generate()
    write_key_file(key_file, (lost, kept))
    await open_database(url)
    try:
        await Vault(read_key_file(key_file, "t")).store("test:alice", "openstack", "os-a-Zx81Qw")
        await Vault(read_key_file(key_file, "t")).store("test:alice", "aws", "aws-a-Zx81Qw")
        write_key_file(key_file, (kept, lost))  # bob's data key is wrapped by the kept one
        await Vault(read_key_file(key_file, "t")).store("test:bob", "github", "gh-b-Zx81Qw")
    finally:
        await close_database()
    write_key_file(key_file, (kept,))  # the lost key is gone from the file (no backup)
    return lost.key_id


async def test_the_bot_refuses_to_start_naming_the_lost_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "master.key"
    url = f"sqlite://{tmp_path / 'v.sqlite3'}"
    lost = await _seed(url, key_file)
    bot = TestBot.create(tmp_path, database_url=url, overrides={"vault.key_file": str(key_file)})
    with pytest.raises(StartupRefused) as caught:
        async with bot:
            pass
    message = str(caught.value)
    assert "\n" not in message and lost in message
    assert "1 data key(s) (2 secret(s) of 1 user(s))" in message
    assert f"restore the key file {key_file} from its backup" in message
    assert "quartermaster vault recover --retire-orphaned" in message
    assert bot.adapter is None  # refused before any platform was connected


async def test_a_lost_default_key_file_is_not_silently_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("QUARTERMASTER_HOME", str(home))
    monkeypatch.delenv(ENV_VAR, raising=False)
    url = f"sqlite://{tmp_path / 'v.sqlite3'}"
    async with TestBot.create(tmp_path, database_url=url) as bot:  # first start makes the key
        await bot.say("alice", "store my openstack token")
        out = await bot.say("alice", "os-app-cred-Zq8w3Xr5Tb2Lk9Vn7Mc4")
        assert "Stored your `openstack` secret" in out[0].text
    (home / DEFAULT_FILE).unlink()
    with pytest.raises(StartupRefused, match=r"the missing key file .*vault-master\.key"):
        async with TestBot.create(tmp_path, database_url=url):
            pass
    assert not (home / DEFAULT_FILE).exists()


def test_quartermaster_run_prints_one_line_and_stops(tmp_path: Path) -> None:
    import asyncio

    key_file = tmp_path / "keys" / "master.key"
    url = f"sqlite://{tmp_path / 'v.sqlite3'}"
    lost = asyncio.run(_seed(url, key_file))
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {url}\nvault:\n  key_file: {key_file}\n")
    result = _qm(config, tmp_path / "home", "run", stdin="tester> ping\n")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("quartermaster: error: vault: refusing to start: ") and lost in line


async def test_recover_retires_only_the_orphans_and_their_owners_are_told(
    db_url: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "master.key"
    lost = await _seed(db_url, key_file)
    config = tmp_path / "qm.yml"
    config.write_text(f"database:\n  url: {db_url}\nvault:\n  key_file: {key_file}\n")
    home = tmp_path / "home"

    dry = _qm(config, home, "vault", "recover")
    assert dry.returncode == 1 and "Traceback" not in dry.stdout + dry.stderr
    assert f"1 data key(s) (2 secret(s) of 1 user(s)) are wrapped by master key(s) {lost}" in (
        dry.stdout
    )
    done = _qm(config, home, "vault", "recover", "--retire-orphaned")
    assert done.returncode == 0, done.stderr
    assert "retired 1 data key(s) and 2 secret(s); 1 owner(s) will be told" in done.stdout
    again = _qm(config, home, "vault", "recover")
    assert again.returncode == 0 and "nothing to recover" in again.stdout

    bot = TestBot.create(tmp_path, database_url=db_url, overrides={"vault.key_file": str(key_file)})
    async with bot:  # starts now
        assert await SealedSecret.filter(owner="test:alice").count() == 0
        assert await DataKey.filter(owner="test:alice").count() == 0
        assert await SealedSecret.filter(owner="test:bob").count() == 1  # untouched
        audit = await AuditEvent.filter(kind="vault.retire-orphaned").values_list(
            "target", "detail"
        )
        assert [(t, d["secrets"]) for t, d in audit] == [("test:alice", ["aws", "openstack"])]
        from credentials.notices import deliver_notices

        assert await deliver_notices(bot.app) == 1
        [notice] = bot.dms_to("alice")
        assert "`aws`, `openstack` could not be kept" in notice.text
        assert "store my aws token" in notice.text
        assert await deliver_notices(bot.app) == 0  # sent once
        assert bot.dms_to("bob") == []
        await bot.say("alice", "store my openstack token")  # a fresh data key works
        out = await bot.say("alice", "os-app-cred-Zq8w3Xr5Tb2Lk9Vn7Mc4")
        assert "Stored your `openstack` secret" in out[0].text


USING_SKILL = """
from bot.skill import Skill

skill = Skill("cloudtest", "uses the requester's openstack secret")


@skill.command(r"boot a vm")
async def boot(ctx):
    secret = await ctx.secret("openstack")
    await ctx.reply(f"booting with {secret}")
"""


async def test_a_secret_that_cannot_be_opened_is_a_clear_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "skillpath"
    (root / "vaultuser2").mkdir(parents=True)
    (root / "vaultuser2" / "__init__.py").write_text("")
    (root / "vaultuser2" / "cloud.py").write_text(USING_SKILL)
    monkeypatch.syspath_prepend(str(root))
    key_file = tmp_path / "master.key"
    write_key_file(key_file, (generate(),))
    overrides = {"vault.key_file": str(key_file), "skills.packages": ["skills", "vaultuser2"]}
    async with TestBot.create(tmp_path, overrides=overrides) as bot:
        await bot.say("alice", "store my openstack token")
        await bot.say("alice", "os-app-cred-Zq8w3Xr5Tb2Lk9Vn7Mc4")
        # the master key that wrapped alice's data key vanished while the bot ran
        await DataKey.filter(owner="test:alice").update(master_key_id="0123456789abcdef")
        out = await bot.say("alice", "boot a vm")
        assert [s.text for s in out] == [
            "Your stored openstack secret can't be opened; store it again with "
            "`store my openstack token`."
        ]
        await bot.say("alice", "store my aws token")
        out = await bot.say("alice", "aws-Zq8w3Xr5Tb2Lk9Vn7Mc4-secret")
        assert out[0].text.startswith("I couldn't seal that: your vault key can't be opened")
        assert "Sorry" not in out[0].text
