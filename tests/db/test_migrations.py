"""Migrations create the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from recsys.db import Base, include_in_autogenerate, migrate
from recsys.db.session import make_engine


# SQLite cannot reflect expression indexes (ix_songs_artist_lower); the catalog tests check it.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrated_schema_matches_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": include_in_autogenerate})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_creates_all_tables(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back(db_url):
    migrate.downgrade(db_url, "base")
    eng = make_engine(db_url)
    assert set(inspect(eng).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(db_url)
    assert set(Base.metadata.tables) <= set(inspect(eng).get_table_names())
    eng.dispose()


def _schema(url: str) -> dict[str, list[str]]:
    eng = make_engine(url)
    insp = inspect(eng)
    schema = {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}
    eng.dispose()
    return schema


def test_upgrade_is_idempotent(db_url):
    migrate.upgrade(db_url)
    before = _schema(db_url)
    migrate.upgrade(db_url)
    assert _schema(db_url) == before and migrate.revision_of(db_url) == migrate.head()

