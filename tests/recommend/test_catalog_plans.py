"""Cold-start look-ups at catalog scale: the same-artist fallback searches the artist indexes,
never every song of the seed's source (found by bench/scale_serve.py: 0.42 s a request at
250,000 songs on SQLite, docs/benchmarks.md §17)."""

from __future__ import annotations

from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from recsys.db.models import Song
from recsys.recommend.catalog import SqlCatalog


def _plans(engine, run) -> tuple[object, list[str]]:
    """``run()``'s result and the plans of the statements it issued (PostgreSQL: index scans
    preferred, so that a tiny table shows which indexes the conditions can use)."""
    seen: list[tuple[str, object]] = []
    listener = lambda *a: seen.append((a[2], a[3]))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        result = run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    sqlite = engine.dialect.name == "sqlite"
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if not sqlite:
            cur.execute("SET enable_seqscan = off")
        plans = []
        for statement, params in seen:
            cur.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement, params)
            plans.append("\n".join(str(r[-1]) for r in cur.fetchall()))
        raw.rollback()
    finally:
        raw.close()
    return result, plans


def test_same_artist_of_a_source_searches_the_artist_indexes(engine):
    rows = [{"source": src, "external_id": str(n), "title": f"t{n}",
             "artist": "Wanted" if n % 50 == 0 else f"a{n}", "search_key": f"t{n}"}
            for src in ("acme", "radio") for n in range(300)]
    with engine.begin() as conn:
        conn.execute(insert(Song), rows)
    with Session(engine) as session:
        found, plans = _plans(engine, lambda: SqlCatalog(session).same_artist(
            ["wanted"], limit=4, exclude=(), sources={"radio"}))
        expected = sorted(s.id for s in session.query(Song).filter(
            Song.source == "radio", Song.artist == "Wanted"))[:4]
    assert found == expected and len(found) == 4
    assert len(plans) == 1
    plan = plans[0]
    assert "ix_songs_artist" in plan, plan  # by artist (either spelling) ...
    assert "sqlite_autoindex_songs_1" not in plan and "uq_songs" not in plan, plan  # not by
    assert "SCAN songs" not in plan and "Seq Scan" not in plan, plan  # source, nor a scan
