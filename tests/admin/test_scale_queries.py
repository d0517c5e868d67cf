"""Dashboard queries at catalog scale: searches that must use an index, not read every song
(found by bench/scale_walk.py on 250,000 songs)."""

from __future__ import annotations

import re

from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from recsys.admin.queries import songs_by_id
from recsys.db.models import Song


def _songs(engine) -> None:
    rows = [{"source": src, "external_id": str(n), "title": f"t{n}", "artist": "a",
             "search_key": f"t{n}"} for src in ("acme", "radio", "zeta") for n in range(40, 80)]
    rows += [{"source": src, "external_id": "trk-7", "title": "", "artist": "", "search_key": ""}
             for src in ("zeta", "acme")]
    with engine.begin() as conn:
        conn.execute(insert(Song), rows)


def _plans(engine, run) -> list[str]:
    """Plans of the statements ``run`` issues (EXPLAIN QUERY PLAN / EXPLAIN, index scans
    preferred on PostgreSQL so that a tiny table shows which index conditions it can use)."""
    seen: list[tuple[str, object]] = []
    listener = lambda *a: seen.append((a[2], a[3]))  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    plans = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "postgresql":
            cur.execute("SET enable_seqscan = off")
        for statement, params in seen:
            prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
            cur.execute(prefix + statement, params)
            plans.append("\n".join(str(r[-1]) for r in cur.fetchall()))
        raw.rollback()
    finally:
        raw.close()
    return plans


def test_an_external_id_of_any_source_is_searched_in_the_index(engine):
    _songs(engine)
    with Session(engine) as session:
        found = songs_by_id(session, "42")
    with Session(engine) as session:  # a new session: the song of id 41 is not in its map
        plans = _plans(engine, lambda: songs_by_id(session, "41"))
    # external id 42 of every source, and the song with catalog id 42 (radio's 41), by id
    with engine.connect() as conn:
        by_catalog_id = conn.execute(text(
            "SELECT source, external_id FROM songs WHERE id = 42")).one()
    assert tuple(by_catalog_id) == ("radio", "41")
    assert sorted((s["source"], s["external_id"]) for s in found) == [
        ("acme", "42"), ("radio", "41"), ("radio", "42"), ("zeta", "42")]
    assert [s["id"] for s in found] == sorted(s["id"] for s in found)
    with Session(engine) as session:
        assert [s["source"] for s in songs_by_id(session, "trk-7")] == ["zeta", "acme"]
        assert songs_by_id(session, "nope") == []
    assert len(plans) == 3  # the sources, by external id, then by catalog id
    for plan in plans:
        assert "SCAN songs\n" not in plan + "\n", plan  # no read of the whole table
    if engine.dialect.name == "sqlite":
        assert "(source=? AND external_id=?)" in plans[1], plans[1]
    else:  # both columns of the unique index searched, not external_id over the whole index
        assert re.search(r"Index Cond: \(\(\(?source\)?.* AND .*external_id", plans[1]), plans[1]


def test_sources_come_from_the_index_whatever_their_number(engine):
    from recsys.db.models import song_sources

    _songs(engine)
    with engine.connect() as conn:
        assert sorted(conn.scalars(song_sources())) == ["acme", "radio", "zeta"]
        conn.execute(text("DELETE FROM songs"))
        assert list(conn.scalars(song_sources())) == []
