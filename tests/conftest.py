"""Shared fixtures: databases (SQLite and a real PostgreSQL), app, client, runner, real data."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from recsys.db import migrate
from recsys.db.session import make_engine

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (real data, training)")
    config.addinivalue_line("markers", "postgres: needs the PostgreSQL test server")
    config.addinivalue_line("markers", "browser: drives Debian's Chromium with Playwright")


def require_or_skip(reason: str) -> None:
    """Missing prerequisites fail in CI and skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this is a failure, not a skip)")
    pytest.skip(reason)


# --- real data -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def yes_dir() -> Path:
    """The real Yes.com data (``RECSYS_YES_DIR`` or ``../shared/data/yes``)."""
    path = Path(os.environ.get("RECSYS_YES_DIR", REPO.parent / "shared" / "data" / "yes"))
    if not (path / "yes_small" / "train.txt").exists():
        require_or_skip(f"real Yes.com data not found at {path}")
    return path


# --- databases -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server for the whole session (started from the installed binaries)."""
    from tests.pgserver import PostgresServer

    try:
        server = PostgresServer().start()
    except FileNotFoundError as exc:
        require_or_skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server) -> str:
    """A migrated template database; each test clones it (fast, isolated)."""
    admin = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE recsys_template"))
    admin.dispose()
    migrate.upgrade(pg_server.url("recsys_template"))
    return "recsys_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file; each test copies it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh, migrated, empty database URL; runs each test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "test.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server = request.getfixturevalue("pg_server")
    template = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {template}"))
    yield server.url(name)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path, sqlite_template) -> str:
    """A fresh migrated SQLite database only (for tests that need no PostgreSQL run)."""
    target = tmp_path / "test.db"
    shutil.copy(sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def engine(db_url):
    """Engine on the fresh database."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


# --- Flask ---------------------------------------------------------------------------------


@pytest.fixture
def make_app(tmp_path):
    """Factory: a Flask app on a database URL, with its var/ and model store under tmp_path."""
    from recsys import create_app
    from recsys.config import TestConfig

    def _make(database_url: str, **overrides):
        cfg = TestConfig(
            DATABASE_URL=database_url,
            VAR_DIR=str(tmp_path / "var"),
            MODEL_DIR=str(tmp_path / "var" / "models"),
            **overrides,
        )
        return create_app(cfg)

    return _make


@pytest.fixture
def app(make_app, sqlite_url):
    """The app on a fresh SQLite database."""
    return make_app(sqlite_url)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
