"""PostgreSQL: ``--update`` imports one at a time (the imports' advisory lock), comparing with
the database inside the lock; and through the CLI on a PostgreSQL database. (The behaviour
tests of ``test_updates.py`` run on both databases.)"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from recsys.ingest import import_csv

pytestmark = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

HEADER = "playlist_id,position,song_id,title,artist,tags,playlist_name\n"


def _file(path, title: str, order):
    rows = [f"p{p},{i},s{song},{title} {song},Artist {song % 3},,\n"
            for p in range(30) for i, song in enumerate(order(p))]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_concurrent_update_imports_of_one_file_apply_it_once(engine, tmp_path):
    """Two nightly jobs sending the same corrections at once: the second waits for the first
    and then finds nothing left to change (it compares after taking the lock)."""
    import_csv(engine, _file(tmp_path / "v1.csv", "Old", lambda p: [p, p + 1, p + 2]),
               progress=False)
    edited = _file(tmp_path / "v2.csv", "New", lambda p: [p + 2, p])
    results, errors, start = [], [], threading.Barrier(2)

    def run():
        start.wait()
        try:
            results.append(import_csv(engine, edited, progress=False, update=True))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(results) == 2
    assert sorted(r.songs_updated for r in results) == [0, 32]
    assert sorted(r.playlists_replaced for r in results) == [0, 30]
    with engine.connect() as conn:
        titles = set(conn.execute(text("SELECT title FROM songs")).scalars())
        items = conn.execute(text("SELECT count(*), max(position) FROM playlist_items")).one()
    assert {t.split()[0] for t in titles} == {"New"}
    assert tuple(items) == (60, 1)


def test_import_update_through_the_cli(make_app, db_url, tmp_path):
    app = make_app(db_url)
    runner = app.test_cli_runner()
    first = _file(tmp_path / "v1.csv", "Old", lambda p: [p, p + 1])
    assert runner.invoke(args=["import", "csv", str(first)]).exit_code == 0
    edited = _file(tmp_path / "v2.csv", "New", lambda p: [p + 1, p])
    result = runner.invoke(args=["import", "csv", str(edited), "--update"])
    assert result.exit_code == 0, result.output
    assert "31 songs updated" in result.output and "30 playlists replaced" in result.output
    hits = app.test_client().get("/api/songs?q=new 7").get_json()
    assert [s["title"] for s in hits["items"]] == ["New 7"]
