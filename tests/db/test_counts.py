"""Counts that stay cheap on large tables (recsys.db.counts): exact while small, PostgreSQL's
estimate above the limit, and no statement that reads a large table."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from recsys.admin.queries import data_counts
from recsys.db import counts
from recsys.db.models import Playlist, PlaylistItem, Song


def _fill(engine, per_source: dict[str, int], items_per_playlist: int = 3) -> None:
    """``per_source`` playlists (and as many songs) per source, each playlist 3 songs long."""
    with engine.begin() as conn:
        for source, n in per_source.items():
            conn.execute(insert(Song), [{"source": source, "external_id": f"s{i}", "title": "t",
                                         "artist": "a", "search_key": "t a"} for i in range(n)])
            conn.execute(insert(Playlist), [{"source": source, "external_id": f"p{i}"}
                                            for i in range(n)])
            songs = conn.execute(text("SELECT id FROM songs WHERE source = :s ORDER BY id"),
                                 {"s": source}).scalars().all()
            lists = conn.execute(text("SELECT id FROM playlists WHERE source = :s ORDER BY id"),
                                 {"s": source}).scalars().all()
            conn.execute(insert(PlaylistItem), [
                {"playlist_id": pid, "position": k, "song_id": songs[(j + k) % n]}
                for j, pid in enumerate(lists) for k in range(items_per_playlist)])


def _analyze(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))


def _statements(engine, run):
    """``run()``'s result and the statements it issued."""
    seen: list[str] = []
    listener = lambda *a: seen.append(a[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return result, seen


def test_small_tables_are_counted_exactly(engine):
    _fill(engine, {"big": 40, "small": 4})
    _analyze(engine)
    with Session(engine) as session:
        got = data_counts(session)
    assert got["approximate"] == []
    assert (got["songs"], got["playlists"], got["items"]) == (44, 44, 132)
    assert [(r["source"], r["songs"], r["playlists"], r["approximate"])
            for r in got["per_source"]] == [("big", 40, 40, []), ("small", 4, 4, [])]


def test_large_tables_and_sources_are_estimated_without_reading_them(engine, monkeypatch):
    monkeypatch.setattr(counts, "EXACT_BELOW", 30)
    _fill(engine, {"big": 40, "small": 4})
    _analyze(engine)
    with Session(engine) as session:
        got, statements = _statements(engine, lambda: data_counts(session))
    if engine.dialect.name == "sqlite":  # no statistics: always counted
        assert got["approximate"] == [] and got["items"] == 132
        return
    assert got["approximate"] == ["items", "playlists", "songs"]
    assert got["items"] == 132  # analysed just now: the estimate is the count
    rows = {r["source"]: r for r in got["per_source"]}
    assert rows["big"]["approximate"] == ["playlists", "songs"]
    assert abs(rows["big"]["playlists"] - 40) <= 4 and abs(rows["big"]["songs"] - 40) <= 4
    # the small source of a large table is still counted, by its index range
    assert (rows["small"]["songs"], rows["small"]["playlists"], rows["small"]["approximate"]) \
        == (4, 4, [])
    reads = [s for s in statements if "count(" in s.lower()]
    assert not any("playlist_items" in s for s in reads), reads
    assert not any("GROUP BY" in s.upper() for s in statements), statements
    assert all("WHERE" in s.upper() for s in reads if "FROM songs" in s or "FROM playlists" in s)


def test_a_bulk_import_since_the_last_analyze_is_in_the_estimate(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("estimates are PostgreSQL's")
    monkeypatch.setattr(counts, "EXACT_BELOW", 30)
    _fill(engine, {"big": 200})
    _analyze(engine)
    _fill(engine, {"more": 1000}, items_per_playlist=6)  # 6,000 items, not analysed
    with Session(engine) as session:
        estimate = counts.count_table(session, PlaylistItem)
    assert not estimate.exact
    assert 0.7 * 6600 <= estimate.n <= 1.3 * 6600, estimate  # pages now × rows per page


def test_a_table_never_analysed_is_counted(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("estimates are PostgreSQL's")
    monkeypatch.setattr(counts, "EXACT_BELOW", 1)
    with Session(engine) as session:
        assert counts.table_estimate(session, "playlist_items") is None
        assert counts.count_table(session, PlaylistItem) == counts.Count(0, exact=True)
    _fill(engine, {"a": 5})
    with Session(engine) as session:
        got = counts.count_table(session, PlaylistItem)
    assert got.exact or got.n > 0  # autovacuum may have analysed it meanwhile
    if got.exact:
        assert got.n == 15


def test_many_sources_under_the_limit_do_not_add_up_to_a_count_of_the_table(engine,
                                                                           monkeypatch):
    """Six sources of 8 rows in a table estimated at 48 with a limit of 30: each source was
    under the limit, so all were counted, i.e. the whole table read by index ranges (with
    hundreds of sources of 150,000 rows, seconds); the rows counted now stay under it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("estimates are PostgreSQL's")
    monkeypatch.setattr(counts, "EXACT_BELOW", 30)
    _fill(engine, {f"s{i}": 8 for i in range(6)})
    _analyze(engine)
    with Session(engine) as session:
        got, statements = _statements(engine, lambda: counts.count_per_value(session,
                                                                             Song.source))
    assert sorted(got) == [f"s{i}" for i in range(6)]
    exact = [c.n for c in got.values() if c.exact]
    assert exact == [8] * len(exact) and sum(exact) < 30  # what was counted is the truth
    assert all(abs(c.n - 8) <= 1 for c in got.values() if not c.exact)  # analysed: close
    assert len([s for s in statements if "count(" in s.lower()]) == len(exact) == 3
