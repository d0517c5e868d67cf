"""``songs.available`` (migration 0006): its default, its data step, its partial index."""

from __future__ import annotations

from sqlalchemy import inspect, text

from recsys.db import migrate
from recsys.db.models import UNAVAILABLE_SQL
from recsys.db.session import make_engine

SONGS = [  # (source, external id, title, artist, hidden after the upgrade)
    ("yes_big", "1", "Real Song", "Real Band", False),
    ("yes_big", "9633", "MG_DELETED", "-", True),
    ("yes_big", "7850", "-", "-", True),
    ("yes_big", "12", "", "", True),
    ("yes_big", "13", "", "Boney James", False),
    ("radio", "x", "-", "-", False),  # not a Yes.com source: left alone
]


def test_upgrade_hides_the_placeholders_of_yes_sources(db_url, caplog):
    migrate.downgrade(db_url, "0005")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        for source, ext, title, artist, _ in SONGS:
            conn.execute(text("INSERT INTO songs (source, external_id, title, artist, created_at)"
                              " VALUES (:s, :e, :t, :a, CURRENT_TIMESTAMP)"),
                         {"s": source, "e": ext, "t": title, "a": artist})
        for kind, source in (("yes", "yes_big"), ("csv", "radio")):
            conn.execute(text("INSERT INTO import_runs (kind, source, started_at, songs_added, "
                              "playlists_added, items_added) VALUES (:k, :s, "
                              "CURRENT_TIMESTAMP, 0, 0, 0)"), {"k": kind, "s": source})
    migrate.upgrade(db_url)
    with engine.connect() as conn:
        hidden = set(conn.execute(text(
            "SELECT source, external_id FROM songs WHERE NOT available")).all())
    assert hidden == {(s, e) for s, e, *_, h in SONGS if h}
    with engine.begin() as conn:  # a new row is available unless told otherwise
        conn.execute(text("INSERT INTO songs (source, external_id, title, artist, created_at) "
                          "VALUES ('radio', 'y', 'T', 'A', CURRENT_TIMESTAMP)"))
        assert conn.execute(text("SELECT available FROM songs WHERE external_id = 'y'")
                            ).scalar_one() in (True, 1)
    with engine.connect() as conn:  # what every server reads
        ids = set(conn.execute(text(UNAVAILABLE_SQL)).scalars())
        expected = set(conn.execute(text("SELECT id FROM songs WHERE available = false")
                                    ).scalars())
    assert ids == expected and len(ids) == 3
    with engine.begin() as conn:  # an operator's takedown, which a downgrade loses
        taken_down = conn.execute(text("UPDATE songs SET available = false "
                                       "WHERE external_id = 'y' RETURNING id")).scalar_one()
    engine.dispose()
    with caplog.at_level("WARNING", "alembic.runtime.migration"):
        migrate.downgrade(db_url, "0005")  # and back: the column and its index go
    assert "1 song(s) hidden by an operator will be recommended again" in caplog.text
    assert f"songs hide {taken_down}`" in caplog.text  # only the takedown, not placeholders
    engine = make_engine(db_url)
    columns = {c["name"] for c in inspect(engine).get_columns("songs")}
    engine.dispose()
    assert "available" not in columns and "title" in columns
    migrate.upgrade(db_url)


def test_the_servers_query_reads_the_partial_index(engine):
    with engine.connect() as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(r[0] for r in conn.execute(text(f"EXPLAIN {UNAVAILABLE_SQL}")))
        else:
            plan = " ".join(str(r[-1]) for r in conn.execute(
                text(f"EXPLAIN QUERY PLAN {UNAVAILABLE_SQL}")))
    assert "ix_songs_unavailable" in plan, plan
