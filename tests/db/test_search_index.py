"""PostgreSQL: the optional trigram index of the song search (migration 0007, 0005 before)."""

from __future__ import annotations

import logging
import uuid

import pytest
from sqlalchemy import inspect, text

from recsys.db import migrate
from recsys.db.session import make_engine

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_substring_search_uses_the_trigram_index(engine):
    """The search's own condition (``matches``) is served by the index on ``search_key``;
    0005's indexes on lower(title)/lower(artist), which only the search used, are gone."""
    from sqlalchemy import select

    from recsys.api.queries import matches
    from recsys.db.models import Song

    names = {ix["name"] for ix in inspect(engine).get_indexes("songs")}
    assert "ix_songs_search_key_trgm" in names and "ix_songs_artist_lower" in names
    assert not names & {"ix_songs_title_trgm", "ix_songs_artist_trgm"}
    query = select(Song.id).where(matches("beyonce"))
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = " ".join(r[0] for r in conn.execute(
            text("EXPLAIN " + str(query.compile(engine, compile_kwargs={
                "literal_binds": True})))))
    assert "ix_songs_search_key_trgm" in plan


def test_without_the_extension_privilege_the_migration_goes_on(pg_server, caplog):
    """A role that may create tables but not extensions still gets the whole schema."""
    name, role = f"t_{uuid.uuid4().hex[:12]}", f"r_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(text(f"CREATE DATABASE {name}"))
        conn.execute(text(f"REVOKE CREATE ON DATABASE {name} FROM PUBLIC"))
    owner = make_engine(pg_server.url(name), isolation_level="AUTOCOMMIT")
    with owner.connect() as conn:
        conn.execute(text(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}"))
    owner.dispose()
    url = pg_server.url(name).replace("postgres@", f"{role}@", 1)
    try:
        with caplog.at_level(logging.WARNING):
            migrate.upgrade(url)
        assert "pg_trgm is not available" in caplog.text
        assert migrate.revision_of(url) == migrate.head()
        engine = make_engine(url)
        names = {ix["name"] for ix in inspect(engine).get_indexes("songs")}
        engine.dispose()
        assert "ix_songs_search_key_trgm" not in names and "ix_songs_artist_lower" in names
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()
