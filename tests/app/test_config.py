"""Configuration from the environment; production refuses to start without its secrets."""

from __future__ import annotations

import pytest

from recsys import create_app
from recsys.config import Config, ProductionConfig, config_from_env


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    names = ("SECRET_KEY", "DATABASE_URL", "RECSYS_ADMIN_PASSWORD", "RECSYS_ENV", "FLASK_DEBUG")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RECSYS_VAR_DIR", str(tmp_path / "var"))
    return monkeypatch


def test_default_database_is_sqlite_under_var(clean_env, tmp_path):
    cfg = Config()
    assert cfg.DATABASE_URL == f"sqlite:///{tmp_path / 'var' / 'recsys.db'}"
    assert cfg.MODEL_DIR == str(tmp_path / "var" / "models")


def test_database_url_from_environment(clean_env):
    clean_env.setenv("DATABASE_URL", "postgresql+psycopg://u@h/db")
    assert Config().DATABASE_URL == "postgresql+psycopg://u@h/db"


def test_development_key_is_random_per_process_not_a_constant(clean_env):
    assert Config().SECRET_KEY != Config().SECRET_KEY


def test_production_refuses_to_start_without_secrets(clean_env):
    clean_env.setenv("RECSYS_ENV", "production")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_production_names_every_missing_variable(clean_env):
    clean_env.setenv("SECRET_KEY", "x" * 32)
    with pytest.raises(RuntimeError) as info:
        ProductionConfig().validate()
    assert "DATABASE_URL" in str(info.value)
    assert "RECSYS_ADMIN_PASSWORD" in str(info.value)
    assert "SECRET_KEY" not in str(info.value)


def test_production_refuses_debug(clean_env, tmp_path):
    clean_env.setenv("SECRET_KEY", "x" * 32)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    clean_env.setenv("RECSYS_ADMIN_PASSWORD", "a long password")
    clean_env.setenv("FLASK_DEBUG", "1")
    with pytest.raises(RuntimeError, match="FLASK_DEBUG"):
        ProductionConfig().validate()


@pytest.mark.parametrize(("statement_ms", "client_s", "ok"), [
    (None, None, True), ("5000", "6", True), ("5000", "0", True), ("0", "0", True),
    ("5000", "5.5", False), ("5000", "3", False), ("0", "7", False)])
def test_production_refuses_a_client_deadline_below_the_statement_timeout(
        clean_env, tmp_path, statement_ms, client_s, ok):
    """A slow query must meet the server's timeout first: a client deadline at or below it
    would trip the breaker and fail every database request of the worker for a while."""
    clean_env.setenv("SECRET_KEY", "x" * 32)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    clean_env.setenv("RECSYS_ADMIN_PASSWORD", "a long password")
    for name, value in (("RECSYS_DB_STATEMENT_TIMEOUT_MS", statement_ms),
                        ("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", client_s)):
        if value is None:
            clean_env.delenv(name, raising=False)
        else:
            clean_env.setenv(name, value)
    if ok:
        ProductionConfig().validate()
    else:
        with pytest.raises(RuntimeError, match="at least 1 s more than the statement timeout"):
            ProductionConfig().validate()


def test_production_starts_with_secrets(clean_env, tmp_path):
    clean_env.setenv("RECSYS_ENV", "production")
    clean_env.setenv("SECRET_KEY", "x" * 32)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    clean_env.setenv("RECSYS_ADMIN_PASSWORD", "a long password")
    app = create_app()
    assert app.config["SECRET_KEY"] == "x" * 32
    assert not app.debug


@pytest.mark.parametrize(("key", "password", "complaint"), [
    (" " * 40, "a long password", "SECRET_KEY must have at least 16"),
    ("short", "a long password", "SECRET_KEY must have at least 16"),
    ("x" * 32, "        ", "RECSYS_ADMIN_PASSWORD must have at least 8"),
    ("x" * 32, "pw", "RECSYS_ADMIN_PASSWORD must have at least 8"),
])
def test_production_refuses_trivial_secrets(clean_env, tmp_path, key, password, complaint):
    clean_env.setenv("SECRET_KEY", key)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    clean_env.setenv("RECSYS_ADMIN_PASSWORD", password)
    with pytest.raises(RuntimeError, match=complaint):
        ProductionConfig().validate()


def test_request_statement_timeout_setting(clean_env):
    assert Config().DB_STATEMENT_TIMEOUT_MS == 5000
    clean_env.setenv("RECSYS_DB_STATEMENT_TIMEOUT_MS", "250")
    assert Config().DB_STATEMENT_TIMEOUT_MS == 250


def test_unknown_environment_name_is_an_error(clean_env):
    clean_env.setenv("RECSYS_ENV", "staging")
    with pytest.raises(RuntimeError, match="RECSYS_ENV"):
        config_from_env()


def test_production_refuses_flask_run(clean_env, tmp_path):
    import click

    clean_env.setenv("RECSYS_ENV", "production")
    clean_env.setenv("SECRET_KEY", "x" * 32)
    clean_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    clean_env.setenv("RECSYS_ADMIN_PASSWORD", "a long password")
    group = click.Group("flask")
    with click.Context(group, info_name="flask") as parent, \
            click.Context(click.Command("run"), info_name="run", parent=parent), \
            pytest.raises(RuntimeError, match="not by `flask run`"):
        create_app()
    with click.Context(group, info_name="flask") as parent, \
            click.Context(click.Command("routes"), info_name="routes", parent=parent):
        assert create_app() is not None  # other flask commands still work


@pytest.mark.parametrize(("name", "value", "complaint"), [
    ("RECSYS_MODEL_POLL_SECONDS", "0", "must be an integer >= 1, got '0' (0 would never pick up"),
    ("RECSYS_ADMIN_SESSION_HOURS", "0", "must be an integer >= 1"),
    ("RECSYS_ADMIN_IDLE_MINUTES", "-5", "must be an integer >= 1"),
    ("RECSYS_TRUSTED_PROXIES", "-1", "must be an integer >= 0"),
    ("RECSYS_DB_REQUEST_SLOTS", "-3", "must be an integer >= 0"),
    ("RECSYS_DB_STATEMENT_TIMEOUT_MS", "-1", "must be an integer >= 0"),
    ("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", "nan", "must be a number >= 0"),
    ("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", "-2", "must be a number >= 0"),
    ("RECSYS_LOG_LEVEL", "LOUD", "RECSYS_LOG_LEVEL must be one of DEBUG, INFO"),
    ("DATABASE_URL", "garbage", "DATABASE_URL is not a database URL"),
    ("DATABASE_URL", "postgresql://u@h:abc/db", "DATABASE_URL is not a database URL"),
    ("DATABASE_URL", "mysql://x@y/z", "names a 'mysql' database: only PostgreSQL and SQLite"),
])
def test_settings_out_of_their_range_are_refused_at_start(clean_env, name, value, complaint):
    """Each used to be accepted (0 poll seconds silently stopped model pick-up, a 0-hour
    session logged out at once) or to fail later with a traceback (log level, URL)."""
    clean_env.setenv(name, value)
    with pytest.raises(RuntimeError) as exc:
        Config()
    assert name in str(exc.value) and complaint in str(exc.value)


def test_accepted_spellings_of_levels_and_urls(clean_env):
    clean_env.setenv("RECSYS_LOG_LEVEL", "debug")
    clean_env.setenv("DATABASE_URL", "postgres://u@h/db")  # Heroku-style, rewritten later
    cfg = Config()
    assert cfg.LOG_LEVEL == "DEBUG" and cfg.DATABASE_URL == "postgres://u@h/db"
    clean_env.setenv("RECSYS_MODEL_POLL_SECONDS", "1")
    assert Config().MODEL_POLL_SECONDS == 1
