"""Storage on SQLite and PostgreSQL: migrations, records, roles, audit, failures."""

import pytest

from bot.audit import AuditLog
from bot.config import RolesSettings
from bot.errors import StorageUnavailable
from bot.roles import RoleService
from bot.storage.db import close_database, open_database, redact_url


@pytest.fixture
async def db(db_url):
    await open_database(db_url)
    yield db_url
    await close_database()


async def test_migrations_apply_and_reopen_is_idempotent(db):
    from bot.storage.models import User

    await User.create(platform="slack", platform_id="U1", name="Alice")
    await close_database()
    await open_database(db)
    assert await User.filter(platform="slack").count() == 1


async def test_a_migration_missing_from_the_record_is_applied_at_the_next_open(db):
    """A restart on an up-to-date database skips tortoise's migrate step; one that is not up to
    date (here: credentials' migration forgotten and its tables gone) still runs it."""
    from tortoise import Tortoise

    from credentials.models import DataKey

    conn = Tortoise.get_connection("default")
    tables = ("qm_vault_use", "qm_vault_rotation", "qm_vault_secret", "qm_vault_data_key")
    for table in (*tables, "qm_vault_lock", "qm_vault_notice"):
        await conn.execute_script(f"DROP TABLE IF EXISTS {table}")
    await conn.execute_query("DELETE FROM tortoise_migrations WHERE app = 'credentials'")
    await close_database()
    await open_database(db)
    assert await DataKey.all().count() == 0  # the table exists again
    _, rows = await Tortoise.get_connection("default").execute_query(
        "SELECT name FROM tortoise_migrations WHERE app = 'credentials'"
    )
    assert rows


def test_model_packages_come_from_entry_points(tmp_path, monkeypatch, caplog):
    """The core lists only its own tables; the vault's arrive through its entry point, and a
    site package that fails to load is logged and left out instead of stopping the start."""
    from bot.storage.db import installed_apps
    from tests.plugin_dist import fake_distribution

    site = fake_distribution(
        tmp_path,
        "qm-site-tables",
        {"quartermaster.models": {"loans": "qm_site_loans", "broken": "qm_site_gone"}},
        {
            "qm_site_loans": "MODELS = ['qm_site_loans.models']\n"
            "MIGRATIONS = 'qm_site_loans.migrations'\n"
        },
    )
    monkeypatch.syspath_prepend(str(site))
    apps = installed_apps()
    assert apps["bot"] == (["bot.storage.models"], "bot.storage.migrations")
    assert apps["credentials"] == (["credentials.models"], "credentials.migrations")
    assert apps["loans"] == (["qm_site_loans.models"], "qm_site_loans.migrations")
    assert "broken" not in apps and "qm_site_gone" in caplog.text
    assert not any("bot.workflow" in m for models, _ in apps.values() for m in models)


async def test_request_with_history_and_resources(db):
    from bot.storage.models import Request, RequestEvent, Resource, User

    alice = await User.create(platform="test", platform_id="alice", name="alice")
    req = await Request.create(
        type="quota",
        state="submitted",
        requester=alice,
        fields_data={"size": 8 * 10**12, "path": "/scratch/neuro"},
    )
    await RequestEvent.create(request=req, actor=alice, action="submit", to_state="submitted")
    await RequestEvent.create(
        request=req,
        actor=alice,
        action="approve",
        from_state="submitted",
        to_state="approved",
        comment="ok",
    )
    await Resource.create(kind="vm", name="vm-1", owner=alice, request=req)
    fetched = await Request.get(id=req.id).prefetch_related("events", "resources")
    assert fetched.ref == f"REQ-{req.id}"
    assert fetched.fields_data["size"] == 8 * 10**12
    assert [e.action for e in fetched.events] == ["submit", "approve"]
    assert [r.name for r in fetched.resources] == ["vm-1"]


async def test_role_grants_persist(db):
    roles = RoleService(RolesSettings())
    assert await roles.grant("slack:U1", "staff", by="test")
    assert not await roles.grant("slack:U1", "staff", by="test")
    fresh = RoleService(RolesSettings())
    await fresh.load()
    assert fresh.roles_of("slack:U1") == {"researcher", "staff"}
    assert await fresh.revoke("slack:U1", "staff")
    await fresh.load()
    assert fresh.roles_of("slack:U1") == {"researcher"}


async def test_cross_platform_identity_shares_roles(db):
    roles = RoleService(RolesSettings())
    await roles.grant("person:alice", "management", by="test")
    roles.link("slack:U1", "alice")
    roles.link("mattermost:abc", "alice")
    assert roles.has("slack:U1", "management") and roles.has("mattermost:abc", "management")
    assert not roles.has("slack:U2", "management")


async def test_audit_is_batched_then_flushed(db):
    from bot.storage.models import AuditEvent

    audit = AuditLog(flush_interval=60)
    await audit.start()
    for i in range(3):
        audit.record("test:alice", "command", f"core.ping{i}")
    assert await AuditEvent.all().count() == 0  # nothing written on the message path
    await audit.stop()
    assert await AuditEvent.all().count() == 3


async def test_unreachable_database_is_a_clear_error_without_password(free_port):
    url = f"postgres://bot:topsecret@127.0.0.1:{free_port}/qm"
    with pytest.raises(StorageUnavailable) as err:
        await open_database(url, timeout=5)
    assert "topsecret" not in str(err.value)
    assert f"127.0.0.1:{free_port}" in str(err.value)


def test_redact_url():
    assert redact_url("postgres://u:p%40ss@h:5432/d") == "postgres://u:***@h:5432/d"
    assert redact_url("sqlite:///tmp/x.db") == "sqlite:///tmp/x.db"
    assert redact_url("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert redact_url("http://127.0.0.1:8080/a:b@c") == "http://127.0.0.1:8080/a:b@c"


async def test_sqlite_commits_do_not_wait_for_an_fsync(tmp_path):
    """WAL with synchronous=NORMAL: a slow disk must not stall every conversation (a commit
    per outbox claim made fsync stalls visible as "the database did not answer")."""
    from tortoise import Tortoise

    await open_database(f"sqlite://{tmp_path / 'qm.sqlite3'}")
    try:
        conn = Tortoise.get_connection("default")
        assert await conn.execute_query_dict("PRAGMA journal_mode") == [{"journal_mode": "wal"}]
        assert await conn.execute_query_dict("PRAGMA synchronous") == [{"synchronous": 1}]
    finally:
        await close_database()
