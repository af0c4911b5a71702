from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qm.yml"
    path.write_text(text)
    return path


def test_missing_default_file_means_embedded_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("QUARTERMASTER_CONFIG", str(tmp_path / "absent.yml"))
    settings = load_settings(environ={})
    assert settings.source == "<defaults>"
    assert settings.adapters.shell.enabled
    assert settings.database.resolved_url().startswith("sqlite://")
    assert settings.database.resolved_url().endswith("quartermaster.sqlite3")


def test_shipped_config_is_valid():
    settings = load_settings(Path(__file__).parent.parent / "config" / "quartermaster.yml")
    assert "admin" in settings.roles.known
    assert settings.skills.packages == ["skills"]


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"absent\.yml: no such file"):
        load_settings(tmp_path / "absent.yml")


def test_unknown_key_is_named_with_its_path(tmp_path):
    path = write(tmp_path, "adapters:\n  shel:\n    enabled: true\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert f"{path}: adapters.shel: unknown key" in str(err.value)


def test_wrong_type_names_file_key_and_problem(tmp_path):
    path = write(tmp_path, "http:\n  port: lots\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert message.startswith(f"{path}: http.port:")
    assert "integer" in message


def test_malformed_yaml_reports_line(tmp_path):
    path = write(tmp_path, "adapters:\n  shell: [unclosed\nroles: {}\n")
    with pytest.raises(ConfigError, match=r"line \d+, column \d+\): not valid YAML"):
        load_settings(path)


def test_top_level_must_be_a_mapping(tmp_path):
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(write(tmp_path, "- a\n- b\n"))


def test_env_references_are_expanded(tmp_path):
    path = write(
        tmp_path,
        "database:\n  url: postgres://bot:${DBPW}@db/qm\n"
        "redis:\n  url: ${REDIS_URL:-redis://127.0.0.1:6379/0}\n",
    )
    settings = load_settings(path, environ={"DBPW": "s3cret"})
    assert settings.database.url == "postgres://bot:s3cret@db/qm"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"


def test_missing_env_reference_names_variable_and_key(tmp_path, monkeypatch):
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    path = write(tmp_path, "database:\n  url: ${NOPE_NOT_SET}\n")
    with pytest.raises(ConfigError, match=r"database\.url: environment variable NOPE_NOT_SET"):
        load_settings(path)


def test_double_underscore_env_overrides_any_key(tmp_path):
    path = write(tmp_path, "http:\n  port: 8080\n")
    settings = load_settings(
        path,
        environ={
            "QUARTERMASTER__HTTP__PORT": "9090",
            "QUARTERMASTER__ADAPTERS__SLACK__BOT_TOKEN": "xoxb-1",
            "QUARTERMASTER_DATABASE_URL": "sqlite:///tmp/x.db",
        },
    )
    assert settings.http.port == 9090
    assert settings.adapters.slack.model_extra == {"bot_token": "xoxb-1"}
    assert settings.database.url == "sqlite:///tmp/x.db"


def test_grants_must_name_known_roles(tmp_path):
    path = write(tmp_path, "roles:\n  grants:\n    wizard: [shell:alice]\n")
    with pytest.raises(ConfigError, match=r"roles\.grants:.*'wizard' is not one of the known"):
        load_settings(path)


def test_data_dir_follows_quartermaster_home(tmp_path, monkeypatch):
    from bot.paths import data_dir

    monkeypatch.setenv("QUARTERMASTER_HOME", str(tmp_path / "home"))
    assert data_dir() == tmp_path / "home"
    assert (tmp_path / "home").is_dir()
