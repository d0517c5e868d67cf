"""Migration 0009: the database's installation id (one row, random), up and down on SQLite
and PostgreSQL."""

from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from recsys.db import migrate
from recsys.db.installation import installation_id
from recsys.db.session import make_engine


def _id(url: str) -> str:
    engine = make_engine(url)
    try:
        return installation_id(engine)
    finally:
        engine.dispose()


def test_upgrade_makes_one_random_id_and_downgrade_drops_it(db_url, caplog):
    first = _id(db_url)
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    engine = make_engine(db_url)
    checks = inspect(engine).get_check_constraints("installation")
    assert [c["name"] for c in checks] == ["ck_installation_one_row"]  # the models' name
    with pytest.raises(IntegrityError), engine.begin() as conn:  # one row only
        conn.execute(text("INSERT INTO installation (singleton, installation_id) "
                          "VALUES (2, 'other')"))
    with engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM installation")) == 1
    engine.dispose()

    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        migrate.downgrade(db_url, "0008")
    assert f"dropping the installation id {first}" in caplog.text
    assert "models adopt-store --yes" in caplog.text
    engine = make_engine(db_url)
    assert "installation" not in inspect(engine).get_table_names()
    engine.dispose()

    migrate.upgrade(db_url)
    second = _id(db_url)
    assert re.fullmatch(r"[0-9a-f]{32}", second) and second != first
    migrate.upgrade(db_url)  # again: nothing changes
    assert _id(db_url) == second


def test_an_empty_table_is_a_clear_error(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM installation"))
    with pytest.raises(LookupError, match="no installation id"):
        installation_id(engine)
    engine.dispose()


def test_sqlite_rerun_after_the_table_was_left_without_its_revision(sqlite_url):
    """SQLite commits CREATE TABLE at once: a stopped upgrade leaves the table without the
    revision, and the next upgrade must finish it (keeping the id it made)."""
    before = _id(sqlite_url)
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0008'"))
    engine.dispose()
    migrate.upgrade(sqlite_url)
    assert migrate.revision_of(sqlite_url) == "0009" and _id(sqlite_url) == before
