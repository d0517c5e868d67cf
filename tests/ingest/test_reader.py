"""Streaming playlists back for training, and the catalog snapshot."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from recsys.ingest import catalog_snapshot, import_csv, iter_playlist_batches
from recsys.ingest.sample import import_sample


def test_batches_follow_playlist_order(engine):
    import_sample(engine, 120, seed=3, progress=False)
    with engine.connect() as conn:
        expected = {}
        for pid, song in conn.execute(text(
                "SELECT playlist_id, song_id FROM playlist_items ORDER BY playlist_id, position")):
            expected.setdefault(pid, []).append(song)
    batches = list(iter_playlist_batches(engine, batch_size=50))
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [p for b in batches for p in b] == list(expected.values())


def test_one_query_per_batch_and_source_filter(sqlite_url, fixtures, monkeypatch):
    from recsys.db.session import make_engine
    from recsys.ingest import reader

    engine = make_engine(sqlite_url)
    import_csv(engine, fixtures / "playlists.csv", "a", progress=False)
    import_csv(engine, fixtures / "playlists_more.csv", "b", progress=False)
    calls = []

    def counting(conn, sql, params=()):
        calls.append(params)
        return raw_rows(conn, sql, params)

    raw_rows = reader.raw_rows
    monkeypatch.setattr(reader, "raw_rows", counting)
    batches = list(iter_playlist_batches(engine, batch_size=2, source="b"))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[0][0] != [] and len(calls) == 4  # 3 batches + the empty end query
    with pytest.raises(ValueError):
        next(iter_playlist_batches(engine, batch_size=0))
    engine.dispose()


def test_empty_database(engine):
    assert list(iter_playlist_batches(engine)) == []
    snap = catalog_snapshot(engine)
    assert snap["songs"] == snap["playlists"] == snap["items"] == 0
    assert snap["max_playlist_id"] is None and snap["sources"] == {}


def test_snapshot_counts(engine, fixtures):
    import_csv(engine, fixtures / "playlists.csv", "a", progress=False)
    import_csv(engine, fixtures / "playlists_more.csv", "b", progress=False)
    snap = catalog_snapshot(engine)
    assert (snap["songs"], snap["playlists"], snap["items"], snap["tags"]) == (13, 8, 18, 5)
    assert snap["sources"] == {"a": {"songs": 6, "playlists": 3},
                               "b": {"songs": 7, "playlists": 5}}
    assert snap["max_song_id"] >= 13 and snap["max_playlist_id"] >= 8
    assert snap["last_import_run_id"] is not None
