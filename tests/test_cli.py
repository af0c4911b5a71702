"""The `quartermaster` command as a user runs it: real subprocesses, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


_NLU_CACHE: dict[str, str] = {}


@pytest.fixture(autouse=True, scope="module")
def shared_model_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every invocation has its own data dir but shares one trained model (trained once)."""
    _NLU_CACHE["dir"] = str(tmp_path_factory.mktemp("nlu-model"))


def qm(
    *args: str, home: Path, stdin: str | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "QUARTERMASTER_HOME": str(home),
        "USER": "tester",
        "QUARTERMASTER__NLU__MODEL_DIR": _NLU_CACHE["dir"],
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=full_env,
        cwd=ROOT,
        timeout=timeout,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_chat_script_prints_the_bots_side(home, tmp_path):
    script = tmp_path / "t.txt"
    script.write_text(
        "# a comment\n\nalice> ping\nalice@general> @quartermaster ping\n"
        "alice@general> chatter nobody asked about\nbob> whoami\n"
        "bot> lines of the bot are expected output and skipped\n"
    )
    result = qm("chat", "--script", str(script), home=home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "bot> pong",
        "bot@general> pong",
        "bot> You are bob (shell:bob) with the roles: researcher.",
    ]


def test_multi_line_replies_are_indented(home):
    result = qm("chat", "--script", "-", home=home, stdin="alice> help\n")
    lines = result.stdout.splitlines()
    assert lines[0] == "bot> Here's what I can do for you:"
    assert all(line.startswith("  ") for line in lines[1:])
    assert "  • `ping` — check that I'm alive" in lines


def test_conversation_carries_on_one_line_per_invocation(home):
    """State lives in the database, so each line can be its own process."""
    assert (
        qm("chat", "--script", "-", home=home, stdin="tester> grant alice staff\n").stdout.strip()
        == "bot> shell:alice now has the staff role."
    )
    result = qm("chat", "--script", "-", home=home, stdin="alice> whoami\n")
    assert "researcher, staff" in result.stdout


def test_bad_transcript_line_is_reported_and_exit_code_is_2(home):
    result = qm("chat", "--script", "-", home=home, stdin="alice> ping\nthis is not a line\n")
    assert result.returncode == 2
    assert result.stdout.strip() == "bot> pong"
    assert "line 2: expected `user> text`" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_transcript_file(home, tmp_path):
    result = qm("chat", "--script", str(tmp_path / "nope.txt"), home=home)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("quartermaster: error: cannot read transcript")


def test_run_reads_a_piped_transcript(home):
    result = qm("run", home=home, stdin="tester> whoami\n")
    assert result.returncode == 0, result.stderr
    assert "admin" in result.stdout  # the local user is the admin in the shell


def test_config_check_good_and_bad(home, tmp_path):
    good = qm("config", "check", home=home)
    assert good.returncode == 0
    assert "adapters: shell" in good.stdout
    bad_file = tmp_path / "bad.yml"
    bad_file.write_text("http:\n  port: 99999\nadapters:\n  shel: {}\n")
    bad = qm("--config", str(bad_file), "config", "check", home=home)
    assert bad.returncode == 2
    assert f"quartermaster: error: {bad_file}: http.port:" in bad.stderr
    assert f"quartermaster: error: {bad_file}: adapters.shel: unknown key" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_config_check_validates_enabled_platform_keys(home, tmp_path):
    cfg = tmp_path / "slack.yml"
    cfg.write_text("adapters:\n  slack:\n    enabled: true\n    bot_token: xoxb-1-2\n")
    result = qm("--config", str(cfg), "config", "check", home=home)
    assert result.returncode == 2
    assert "adapters.slack.app_token" in result.stderr and "Traceback" not in result.stderr


def test_roles_grant_list_revoke(home):
    assert (
        qm("roles", "grant", "slack:U024BE7LH", "management", home=home).stdout.strip()
        == "slack:U024BE7LH: granted management"
    )
    listing = qm("roles", "list", home=home).stdout
    assert "slack:U024BE7LH\tmanagement" in listing
    assert qm("roles", "revoke", "slack:U024BE7LH", "management", home=home).returncode == 0
    assert "slack:U024BE7LH" not in qm("roles", "list", home=home).stdout
    wrong = qm("roles", "grant", "alice", "wizard", home=home)
    assert wrong.returncode == 1
    assert "There is no role 'wizard'" in wrong.stderr and "Traceback" not in wrong.stderr
    missing = qm("roles", "grant", "alice", home=home)
    assert missing.returncode == 2
    assert "usage: quartermaster roles grant USER ROLE" in missing.stderr


def test_db_migrate_and_database_down(home, free_port):
    ok = qm("db", "migrate", home=home)
    assert ok.returncode == 0 and "is up to date" in ok.stdout
    assert (home / "quartermaster.sqlite3").exists()
    down = qm(
        "db",
        "migrate",
        home=home,
        env={"QUARTERMASTER_DATABASE_URL": f"postgres://bot:pw123@127.0.0.1:{free_port}/x"},
    )
    assert down.returncode == 1
    assert "cannot connect to database postgres://bot:***@127.0.0.1" in down.stderr
    assert "pw123" not in down.stderr and "Traceback" not in down.stderr


def test_choices_are_numbered_and_answerable_across_invocations(home, tmp_path):
    pkg = tmp_path / "clipkgs" / "qmcli_probe"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "pick.py").write_text("""
from bot.events import Choice
from bot.skill import Skill
skill = Skill("pick", "")

@skill.command(r"offer")
async def offer(ctx):
    await ctx.reply("Approve REQ-1?", choices=[Choice("Approve", "pick.do", "approve"),
                                              Choice("Deny", "pick.do", "deny")])

@skill.action("pick.do")
async def do(ctx):
    await ctx.reply(ctx.user_name + " chose " + ctx.interaction.value)
""")
    cfg = tmp_path / "qm.yml"
    cfg.write_text("skills:\n  packages: [skills, qmcli_probe]\n")
    env = {"PYTHONPATH": str(tmp_path / "clipkgs")}
    first = qm(
        "--config",
        str(cfg),
        "chat",
        "--script",
        "-",
        home=home,
        env=env,
        stdin="sam@general> @quartermaster offer\n",
    )
    assert first.stdout.splitlines() == ["bot@general> Approve REQ-1?", "  1) Approve", "  2) Deny"]
    second = qm(
        "--config", str(cfg), "chat", "--script", "-", home=home, env=env, stdin="mia@general> 2\n"
    )
    assert second.stdout.strip() == "bot@general> mia chose deny"


def test_subcommands_come_from_installed_entry_points(home):
    listing = qm("--help", home=home)
    assert listing.returncode == 0
    for command in ("nlu", "requests", "vault"):  # declared in pyproject.toml
        assert command in listing.stdout


def test_a_broken_cli_plugin_is_one_line_and_the_rest_still_works(home, tmp_path):
    from tests.plugin_dist import fake_distribution

    site = fake_distribution(
        tmp_path / "site",
        "qm-site-extras",
        {
            "quartermaster.cli": {
                "hello": "qm_site_hello:register",
                "broken": "qm_site_missing:register",
            }
        },
        {
            "qm_site_hello": "def register(sub, load_settings):\n"
            "    sub.add_parser('hello').set_defaults(func=lambda a: print('hi'))\n"
        },
    )
    env = {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    result = qm("hello", home=home, env=env)
    assert result.returncode == 0 and result.stdout == "hi\n"
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "'broken'" in result.stderr and "qm_site_missing" in result.stderr
    assert qm("vault", "new-key", home=home, env=env).returncode == 0


# -- quartermaster audit (issue #12 item 8) -------------------------------------------------
AUDIT_SCRIPT = """\
alice> request quota
alice> 2TB
alice> /project/alice
alice> thesis data
alice> yes
sam> approve REQ-1 looks fine
"""


def test_audit_filters_by_request_user_kind_and_prints_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"QUARTERMASTER__ROLES__GRANTS__STAFF": '["shell:sam"]'}
    chat = qm("chat", "--script", "-", "--no-admin", home=home, stdin=AUDIT_SCRIPT, env=env)
    assert chat.returncode == 0, chat.stderr
    assert "REQ-1 is now approved" in chat.stdout

    out = qm("audit", "--request", "REQ-1", home=home)
    assert out.returncode == 0, out.stderr
    kinds = [line.split("  ")[2] for line in out.stdout.splitlines()]
    assert kinds[:2] == ["request.filed", "request.approve"]

    out = qm("audit", "--user", "sam", "--kind", "request.*", "--json", home=home)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["actor"], r["kind"], r["target"]) for r in records] == [
        ("shell:sam", "request.approve", "REQ-1")
    ]
    assert records[0]["detail"] == {"from_state": "submitted", "to_state": "approved"}

    out = qm("audit", "--since", "2999-01-01", home=home)
    assert out.returncode == 0 and out.stdout == ""
    assert "No audit records since 2999-01-01" in out.stderr

    out = qm("audit", "--since", "sometime", home=home)
    assert out.returncode == 2
    assert out.stderr.startswith("quartermaster: error: --since: 'sometime' is neither")


def test_an_admin_sets_and_clears_an_email_address_from_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = qm("users", "set-email", "slack:U1", "Alice@Uni.EDU", home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "slack:U1: e-mail Alice@uni.edu"
    out = qm("users", "show", "slack:U1", home=home)
    assert "email=Alice@uni.edu" in out.stdout
    out = qm("users", "set-email", "slack:U1", "not an address", home=home)
    assert out.returncode == 2
    assert out.stderr.startswith("quartermaster: error: 'not an address' isn't an e-mail")
    out = qm("users", "set-email", "slack:U1", "", home=home)
    assert "cleared" in out.stdout
    out = qm("audit", "--kind", "user.email", "--json", home=home)
    assert [json.loads(line)["target"] for line in out.stdout.splitlines()] == ["slack:U1"] * 2


def test_config_is_accepted_after_the_command_too(home: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "site.yml"
    cfg.write_text("name: sitebot\nadapters:\n  shell:\n    enabled: true\n")
    out = qm("config", "check", "--config", str(cfg), home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{cfg}: OK")
    out = qm("--config", "/nonexistent.yml", "audit", "--config", str(cfg), home=home)
    assert out.returncode == 0, out.stderr  # given after the command, it wins
    out = qm("users", "show", "shell:x", "--config", str(tmp_path / "absent.yml"), home=home)
    assert out.returncode == 2 and "absent.yml: no such file" in out.stderr


def test_a_second_shell_run_updates_the_first_runs_cards_where_they_were(tmp_path: Path) -> None:
    """Issue #12 item 11: message ids differ between runs, so an update of a card posted by an
    earlier run is shown where it was posted, and nothing fails in the log."""
    home = tmp_path / "home"
    env = {"QUARTERMASTER__ROLES__GRANTS__STAFF": '["shell:sam"]'}
    first = "alice> request quota\nalice> 2TB\nalice> /project/alice\nalice> thesis\nalice> yes\n"
    out = qm("chat", "--script", "-", "--no-admin", home=home, stdin=first, env=env)
    assert out.returncode == 0, out.stderr
    out = qm(
        "chat", "--script", "-", "--no-admin", home=home, stdin="sam> approve REQ-1\n", env=env
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "bot> REQ-1 is now approved, waiting to be applied (approved by you)."
    updated = [line for line in lines if "(updated)" in line]
    assert any(line.startswith("bot@helpdesk-storage> (updated) *REQ-1") for line in updated)
    assert any(line.startswith("bot->alice> (updated) *REQ-1") for line in updated)
    log = (home / "quartermaster.log").read_text()
    assert "LookupError" not in log and "Traceback" not in log
