"""PostgreSQL: imports beside other imports and beside live readers (the web app)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import text

from recsys.ingest import bulkload, import_csv
from tests.ingest.conftest import counts

pytestmark = pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _csv(path, prefix: str, playlists: int = 20, length: int = 5, tags: bool = True):
    lines = ["playlist_id,position,song_id,title,artist,tags,playlist_name"]
    for p in range(playlists):
        for i in range(length):
            song = (p * 3 + i) % 40
            tag = f"brand-new-tag|{prefix}tag" if tags else ""
            lines.append(f"{prefix}{p},{i},{prefix}s{song},T{song},A{song % 7},{tag},")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_concurrent_imports_adding_the_same_new_tag_both_succeed(engine, tmp_path):
    files = [_csv(tmp_path / f"{name}.csv", name) for name in ("a", "b")]
    errors, start = [], threading.Barrier(2)

    def run(path, source):
        start.wait()
        try:
            import_csv(engine, path, source, progress=False)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f, f.stem)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    got = counts(engine)
    assert got["playlists"] == 40 and got["tags"] == 3  # brand-new-tag, atag, btag


def _reader(engine, first_read: threading.Event, go_on: threading.Event, hold_s: float,
            done: list, then: str = "playlist_items"):
    """A request-like transaction: reads songs, then (later) ``then``."""
    with engine.connect() as conn, conn.begin():
        conn.execute(text("SELECT count(*) FROM songs")).scalar()
        first_read.set()
        go_on.wait(10)
        time.sleep(hold_s)
        conn.execute(text(f"SELECT count(*) FROM {then}")).scalar()
    done.append(True)


# the API's cold start reads songs then playlist_items; the dashboard's counts, then playlists
@pytest.mark.parametrize("then", ["playlist_items", "playlists"])
def test_big_import_and_a_reader_never_deadlock(engine, tmp_path, monkeypatch, caplog, then):
    """The import locks songs before the other tables, as readers read them: it waits for the
    reader, neither is ever a deadlock victim."""
    monkeypatch.setattr(bulkload, "MIN_ROWS", 1)  # every load takes the foreign-key swap
    monkeypatch.setattr(bulkload, "LOCK_WAIT_MS", 4000)  # deadlock detection (1 s) comes first
    caplog.set_level(logging.INFO, logger="recsys.ingest")
    import_csv(engine, _csv(tmp_path / "seed.csv", "z"), "z", progress=False)
    first_read, go_on, done = threading.Event(), threading.Event(), []
    reader = threading.Thread(target=_reader,
                              args=(engine, first_read, go_on, 1.0, done, then))
    reader.start()
    assert first_read.wait(10)
    go_on.set()  # the reader moves on to playlist_items while the import wants its locks
    # no tags: the first foreign-key swap is playlist_items' (song_tags' would come first)
    result = import_csv(engine, _csv(tmp_path / "big.csv", "y", playlists=200, tags=False),
                        "y", progress=False)
    reader.join(30)
    assert done == [True] and result.items_added == 1000
    assert "waiting for readers" not in caplog.text  # no attempt was lost to a deadlock


def test_import_falls_back_to_row_checks_while_readers_hold_on(engine, tmp_path, monkeypatch,
                                                               caplog):
    monkeypatch.setattr(bulkload, "MIN_ROWS", 1)
    monkeypatch.setattr(bulkload, "LOCK_WAIT_MS", 100)
    monkeypatch.setattr(bulkload, "LOCK_RETRY_PAUSES_S", (0.05,))
    first_read, go_on, done = threading.Event(), threading.Event(), []
    reader = threading.Thread(target=_reader, args=(engine, first_read, go_on, 2.0, done))
    reader.start()
    assert first_read.wait(10)
    go_on.set()
    started = time.monotonic()
    result = import_csv(engine, _csv(tmp_path / "x.csv", "x"), "x", progress=False)
    assert time.monotonic() - started < 2.0  # did not wait for the reader to finish
    reader.join(30)
    assert done == [True] and result.items_added == 100
    assert "per-row foreign-key checks" in caplog.text
    with engine.connect() as conn:  # the constraints were never dropped
        fks = conn.execute(text("SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND "
                                "conrelid = 'playlist_items'::regclass")).scalar()
    assert fks == 2
