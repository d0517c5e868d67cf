"""The fast paths of the importer give the same rows as the plain ones, on both databases."""

from __future__ import annotations

import gc
import io

import pytest
from sqlalchemy import text
from tqdm import tqdm

from recsys.db import migrate
from recsys.db.session import make_engine
from recsys.ingest import IngestError, fastinsert, import_yes, writer
from recsys.ingest.yes import parse_yes_dir
from tests.ingest.conftest import counts

ROWS_SQL = {
    "items": "SELECT p.external_id, i.position, s.external_id FROM playlist_items i "
             "JOIN playlists p ON p.id = i.playlist_id JOIN songs s ON s.id = i.song_id "
             "ORDER BY p.external_id, i.position",
    "tags": "SELECT s.external_id, t.name FROM song_tags st JOIN songs s ON s.id = st.song_id "
            "JOIN tags t ON t.id = st.tag_id ORDER BY s.external_id, t.name",
}


def _rows(engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {k: [tuple(r) for r in conn.execute(text(sql))] for k, sql in ROWS_SQL.items()}


EXPECTED_ITEMS = [("0", 0, "0"), ("0", 1, "1"), ("0", 2, "2"), ("1", 0, "3"), ("1", 1, "4"),
                  ("2", 0, "2"), ("3", 0, "0"), ("3", 1, "1"), ("3", 2, "0"), ("3", 3, "3")]
EXPECTED_TAGS = [("0", "pop"), ("0", "rock"), ("1", "rock"), ("2", "rock"), ("3", "chill")]


def test_rows_without_json_each_are_the_same(engine, yes_tiny, monkeypatch):
    """SQLite without JSON functions (and PostgreSQL) expand the runs into rows."""
    monkeypatch.setattr(fastinsert, "_sqlite_has_json", lambda conn: False)
    import_yes(engine, yes_tiny, "tiny", progress=False)
    assert _rows(engine) == {"items": EXPECTED_ITEMS, "tags": EXPECTED_TAGS}


def test_rows_with_progress_bar_batches(engine, yes_tiny, monkeypatch):
    """With a visible bar the rows (and runs) go in batches; same rows, bar complete."""
    bars = []

    def visible_bar(total, desc, enabled):
        bars.append(tqdm(total=total, desc=desc, file=io.StringIO(), disable=False))
        return bars[-1]

    monkeypatch.setattr(writer, "make_progress", visible_bar)
    monkeypatch.setattr(fastinsert, "BATCH_ROWS", 2)
    import_yes(engine, yes_tiny, "tiny", progress=True)
    assert _rows(engine) == {"items": EXPECTED_ITEMS, "tags": EXPECTED_TAGS}
    assert bars[0].n == bars[0].total == 6 + 4 + 10


def test_missing_song_tags_are_added_back(engine, yes_tiny):
    """Re-import after links were deleted: only the missing (song, tag) pairs are added."""
    import_yes(engine, yes_tiny, "tiny", progress=False)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM song_tags WHERE tag_id = (SELECT id FROM tags "
                          "WHERE name = 'rock')"))
    again = import_yes(engine, yes_tiny, "tiny", progress=False)
    assert again.song_tags_added == 3
    assert _rows(engine)["tags"] == EXPECTED_TAGS


def test_non_canonical_ids_take_the_slow_path(sqlite_url, yes_tiny):
    """``007``-style ids are accepted as before (slow path) and give the same catalog."""
    fast = parse_yes_dir(yes_tiny, "tiny")
    train = yes_tiny / "train.txt"
    lines = train.read_text().split("\n")
    lines[2] = "00 01 2 "
    train.write_text("\n".join(lines))
    (yes_tiny / "tags.txt").write_text("0 01\n0\n00\n2\n#\n#\n")
    slow = parse_yes_dir(yes_tiny, "tiny")
    assert [(p.external_id, p.songs) for p in slow.playlists] == \
        [(p.external_id, p.songs) for p in fast.playlists]
    assert {k: s.tags for k, s in slow.songs.items()} == {k: s.tags for k, s in fast.songs.items()}


@pytest.mark.parametrize(("line", "reason"), [
    (b"0 1 2 ", None),
    (b"0 -1 2 ", "train.txt:3: song id '-1' is not a non-negative integer"),
    (b"0 1 6 ", "train.txt:3: unknown song id 6 (song_hash.txt defines 0..5)"),
    (b"0 1 2x ", "train.txt:3: song id '2x' is not a non-negative integer"),
    (b"  ", "train.txt:3: empty playlist line"),
])
def test_first_bad_train_line_is_reported(yes_tiny, line, reason):
    """The fast path's failure falls back to the line-by-line check: first bad line wins."""
    train = yes_tiny / "train.txt"
    lines = train.read_bytes().split(b"\n")
    lines[2] = line
    lines[5] = b"0 1 x "  # a later bad line must not be the one reported
    train.write_bytes(b"\n".join(lines))
    with pytest.raises(IngestError) as err:
        parse_yes_dir(yes_tiny, "tiny")
    assert str(err.value).endswith(reason or "train.txt:6: song id 'x' is not a non-negative "
                                   "integer")


def test_gc_state_restored(engine, yes_tiny):
    assert gc.isenabled()
    import_yes(engine, yes_tiny, "tiny", progress=False)
    assert gc.isenabled()
    tags = yes_tiny / "tags.txt"
    good = tags.read_bytes()
    tags.write_text("9\n")
    with pytest.raises(IngestError):
        import_yes(engine, yes_tiny, "tiny", progress=False)
    assert gc.isenabled()
    tags.write_bytes(good)
    gc.disable()
    try:
        import_yes(engine, yes_tiny, "tiny", progress=False)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_sqlite_import_settings_restored(sqlite_url, yes_tiny):
    """The pooled connection gets its foreign_keys setting back after the import."""
    engine = make_engine(sqlite_url, pool_size=1, max_overflow=0)
    try:
        import_yes(engine, yes_tiny, "tiny", progress=False)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def _table_sql(engine, table: str) -> str:
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).scalar_one()


def test_sqlite_without_rowid_migration_keeps_rows(sqlite_url, yes_tiny):
    """0002 makes the two link tables WITHOUT ROWID; downgrade and upgrade keep every row."""
    engine = make_engine(sqlite_url)
    try:
        for table in ("playlist_items", "song_tags"):
            assert "WITHOUT ROWID" in _table_sql(engine, table)
        import_yes(engine, yes_tiny, "tiny", progress=False)
        before, rows = counts(engine), _rows(engine)
        engine.dispose()
        migrate.downgrade(sqlite_url, "0001")
        for table in ("playlist_items", "song_tags"):
            assert "WITHOUT ROWID" not in _table_sql(engine, table)
        assert counts(engine) == before and _rows(engine) == rows
        engine.dispose()
        migrate.upgrade(sqlite_url)
        for table in ("playlist_items", "song_tags"):
            assert "WITHOUT ROWID" in _table_sql(engine, table)
        assert counts(engine) == before and _rows(engine) == rows
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        again = import_yes(engine, yes_tiny, "tiny", progress=False)
        assert again.items_added == 0 and counts(engine)["playlist_items"] == 10
    finally:
        engine.dispose()


@pytest.mark.parametrize("json_each", [True, False])
def test_bulk_insert_runs_any_keys(engine, monkeypatch, json_each):
    """Gaps (short and long), decreasing keys, empty runs and chunk limits keep every row."""
    if not json_each:
        monkeypatch.setattr(fastinsert, "_sqlite_has_json", lambda conn: False)
    monkeypatch.setattr(fastinsert, "RUNS_PER_STATEMENT", 3)
    runs = [(1, [10, 11]), (2, []), (3, [12]), (5, [13, 14, 15]), (40, [16]), (41, [17]),
            (42, [18]), (43, [19]), (7, [20, 21]), (8, [])]
    ids = {v: v * 100 for _k, vals in runs for v in vals}
    expected3 = [(k, i, v * 100) for k, vals in runs for i, v in enumerate(vals)]
    expected2 = [(k, v) for k, vals in runs for v in vals]
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t_runs3 (k INTEGER, i INTEGER, v INTEGER)")
        conn.exec_driver_sql("CREATE TABLE t_runs2 (k INTEGER, v INTEGER)")
        fastinsert.bulk_insert_runs(conn, "t_runs3", ("k", "i", "v"), runs, None, value_ids=ids)
        fastinsert.bulk_insert_runs(conn, "t_runs2", ("k", "v"), runs, None)
        got3 = conn.exec_driver_sql("SELECT k, i, v FROM t_runs3").all()
        got2 = conn.exec_driver_sql("SELECT k, v FROM t_runs2").all()
    assert sorted(map(tuple, got3)) == sorted(expected3)
    assert sorted(map(tuple, got2)) == sorted(expected2)


def test_run_chunks_pad_short_gaps_and_split_long_ones():
    text = str
    chunks = list(fastinsert._run_chunks([(1, [5]), (3, [6, 7]), (30, [8]), (2, [])], text))
    assert chunks == [(1, "[[5],[],[6,7]]"), (30, "[[8]]"), (2, "[[]]")]
    with pytest.raises(TypeError):
        list(fastinsert._run_chunks([("1", [5])], text))


WEIRD = ["0", "".join(map(chr, range(1, 32))), 'a"b\\c/d', "é€😀𝄞", "\u2028\u2029", " x ",
         "\\u0000", "\x7f"]


@pytest.mark.parametrize("values", [WEIRD, [*WEIRD, "nul\x00inside"]])
def test_bulk_insert_column_keeps_every_string(engine, values):
    """The json_each path (SQLite) round-trips any text, in order; NUL takes executemany."""
    if engine.dialect.name == "postgresql" and any("\x00" in v for v in values):
        pytest.skip("PostgreSQL text cannot hold NUL at all")
    key = "SERIAL PRIMARY KEY" if engine.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE t_col (id {key}, src TEXT, v TEXT)")
        conn.exec_driver_sql(f"CREATE TABLE t_col1 (id {key}, v TEXT)")
        fastinsert.bulk_insert_column(conn, "t_col", {"src": "s'1"}, "v", values, None)
        fastinsert.bulk_insert_column(conn, "t_col1", {}, "v", values, None)
        fastinsert.bulk_insert_column(conn, "t_col1", {}, "v", [], None)
        rows = conn.exec_driver_sql("SELECT src, v FROM t_col ORDER BY id").all()
        rows1 = conn.exec_driver_sql("SELECT v FROM t_col1 ORDER BY id").scalars().all()
    assert [tuple(r) for r in rows] == [("s'1", v) for v in values]
    assert rows1 == values
