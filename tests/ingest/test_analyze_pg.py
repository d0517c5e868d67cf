"""PostgreSQL: an import that changed much of a table refreshes its planner statistics after
the commit, so the overview's per-source estimates are right at once (autovacuum is switched
off here: nothing else analyses the tables); a failed ANALYZE leaves the import committed."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from recsys.admin.queries import data_counts
from recsys.db import counts
from recsys.ingest import analyze, delete_playlists_of, writer
from recsys.ingest.model import ParsedCatalog, PlaylistRecord, SongRecord
from recsys.ingest.writer import write_catalog

pytestmark = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

TABLES = ("songs", "playlists", "playlist_items", "song_tags", "tags")
FILL = """
INSERT INTO songs (source, external_id, title, artist, available, search_key, created_at)
  SELECT 'a', g::text, 't' || g, 'a', true, 't a', now() FROM generate_series(1, 1000) g;
INSERT INTO playlists (source, external_id, created_at)
  SELECT 'a', g::text, now() FROM generate_series(1, 4000) g;
INSERT INTO playlist_items (playlist_id, position, song_id)
  SELECT p, k, 1 + (p * 7 + k * 13) % 1000 FROM generate_series(1, 4000) p,
  generate_series(0, 2) k
"""


def _catalog(source: str, playlists: int, songs: int = 500) -> ParsedCatalog:
    return ParsedCatalog(
        source=source, kind="csv", path=None,
        songs={str(i): SongRecord(str(i), f"t{i}", "a") for i in range(songs)},
        playlists=[PlaylistRecord(str(p), [str((p + k) % songs) for k in range(3)])
                   for p in range(playlists)])


@pytest.fixture
def analysed(engine):
    """Source ``a`` (1,000 songs, 4,000 playlists) analysed; autovacuum off."""
    with engine.begin() as conn:
        for statement in FILL.strip().split(";\n"):
            conn.execute(text(statement))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        conn.execute(text("ANALYZE"))
    return engine


def _per_source(engine) -> dict[str, dict]:
    with Session(engine) as session:
        return {row["source"]: row for row in data_counts(session)["per_source"]}


def test_the_overview_estimates_a_large_import_at_once(analysed, monkeypatch):
    monkeypatch.setattr(counts, "EXACT_BELOW", 1)  # every source estimated
    result = write_catalog(analysed, _catalog("b", 4000), progress=False)
    assert result.playlists_added == 4000
    rows = _per_source(analysed)
    assert rows["a"]["approximate"] == rows["b"]["approximate"] == ["playlists", "songs"]
    for source, playlists, songs in (("a", 4000, 1000), ("b", 4000, 500)):
        assert rows[source]["playlists"] == pytest.approx(playlists, rel=0.05), source
        assert rows[source]["songs"] == pytest.approx(songs, rel=0.05), source


def test_a_small_import_leaves_the_statistics_to_autovacuum(analysed, monkeypatch):
    monkeypatch.setattr(analyze, "ANALYZE_ROWS", 1000)
    calls = []
    real = analyze.refresh_statistics
    monkeypatch.setattr(writer, "refresh_statistics",
                        lambda *args: calls.append(real(*args)) or calls[-1])
    write_catalog(analysed, _catalog("b", 300, songs=90), progress=False)  # < 10%, < 1,000
    write_catalog(analysed, _catalog("c", 1000, songs=90), progress=False)
    write_catalog(analysed, _catalog("d", 4000), progress=False, dry_run=True)
    assert [set(took) for took in calls] == [set(), {"playlists", "playlist_items"}]


def test_a_failed_analyze_keeps_the_import(analysed, monkeypatch, caplog):
    monkeypatch.setattr(analyze, "LOCK_TIMEOUT_MS", 100)
    with analysed.connect() as blocker:
        blocker.execute(text("LOCK TABLE playlists IN SHARE UPDATE EXCLUSIVE MODE"))  # as VACUUM
        with caplog.at_level(logging.WARNING, logger="recsys.ingest"):
            result = write_catalog(analysed, _catalog("b", 4000), progress=False)
        blocker.rollback()
    assert result.playlists_added == 4000 and result.run_id is not None
    assert "ANALYZE playlists after importing b failed (the import is committed" in caplog.text
    assert "lock timeout" in caplog.text
    with analysed.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM playlists WHERE source = 'b'")).scalar()
        rows = dict(conn.execute(text(
            "SELECT relname::text, reltuples FROM pg_class WHERE relname = ANY(:t)"),
            {"t": list(TABLES)}).all())
    assert stored == 4000
    assert rows["playlists"] == 4000  # its statistics are the old ones...
    assert rows["playlist_items"] == 24000 and rows["songs"] == 1500  # ...the others analysed


def test_a_large_deletion_refreshes_the_estimates(analysed, monkeypatch):
    monkeypatch.setattr(counts, "EXACT_BELOW", 1)
    write_catalog(analysed, _catalog("b", 1000), progress=False)
    removal = delete_playlists_of(analysed, "a")
    assert removal.playlists_deleted == 4000 and removal.items_deleted == 12000
    with Session(analysed) as session:
        overview = data_counts(session)
    assert overview["playlists"] == pytest.approx(1000, rel=0.05)
    assert overview["items"] == pytest.approx(3000, rel=0.05)  # not the 15,000 of before
