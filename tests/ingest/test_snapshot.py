"""Snapshot imports (on SQLite and PostgreSQL): the file is the whole source, so the source's
stored playlists it does not name are deleted with their items, in the import's transaction;
other sources and songs are untouched; a snapshot deleting too much is refused whole."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from recsys.ingest import IngestError, import_csv, import_jsonl
from recsys.jobs.data import load_playlists
from tests.ingest.conftest import CSV_HEADER, write_csv


def _stored(engine, source: str) -> dict[str, list[str]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.external_id, s.external_id FROM playlists p "
            "LEFT JOIN playlist_items i ON i.playlist_id = p.id "
            "LEFT JOIN songs s ON s.id = i.song_id WHERE p.source = :src "
            "ORDER BY p.external_id, i.position"), {"src": source}).all()
    out: dict[str, list[str]] = {}
    for pid, sid in rows:
        out.setdefault(pid, [])
        if sid is not None:
            out[pid].append(sid)
    return out


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


TONIGHT = {f"p{i}": [f"s{i}", f"s{i + 1}", f"s{i + 2}"] for i in range(10)}


@pytest.fixture
def stored(engine, tmp_path):
    import_csv(engine, write_csv(tmp_path, "night1.csv", TONIGHT), "radio", progress=False)
    import_csv(engine, write_csv(tmp_path, "other.csv", {"o1": ["s1", "s2"], "p1": ["s3", "s4"]}),
               "other", progress=False)
    return engine


def test_snapshot_deletes_the_playlists_it_does_not_name(stored, tmp_path):
    night2 = {k: v for k, v in TONIGHT.items() if k not in ("p3", "p7")}
    night2["p0"] = ["s5", "s0"]        # re-sent with other songs: replaced (update)
    night2["p10"] = ["s10", "s99"]     # new
    result = import_csv(stored, write_csv(tmp_path, "night2.csv", night2), "radio",
                        progress=False, snapshot=True)
    assert (result.playlists_deleted, result.items_deleted) == (2, 6)
    assert (result.playlists_added, result.playlists_replaced) == (1, 1)
    assert "2 playlists deleted (not in the snapshot: 'p3', 'p7'; 6 items)" in result.summary()
    assert _stored(stored, "radio") == night2
    # another source's playlist of the same external id, and every song, stay
    assert _stored(stored, "other") == {"o1": ["s1", "s2"], "p1": ["s3", "s4"]}
    assert _count(stored, "SELECT COUNT(*) FROM songs WHERE source = 'radio'") == 13
    assert _count(stored, "SELECT COUNT(*) FROM playlist_items i LEFT JOIN playlists p "
                          "ON p.id = i.playlist_id WHERE p.id IS NULL") == 0
    with stored.connect() as conn:
        changes = conn.execute(text("SELECT changes FROM import_runs ORDER BY id DESC")).first()[0]
    changes = changes if isinstance(changes, dict) else json.loads(changes)
    assert changes["playlists_deleted"] == 2 and changes["items_deleted"] == 6
    # training reads what is stored: the deleted playlists are gone from the corpus
    corpus = load_playlists(stored)
    assert len(corpus) == len(night2) + 2


def test_snapshot_again_changes_nothing(stored, tmp_path):
    path = write_csv(tmp_path, "same.csv", dict(list(TONIGHT.items())[:8]))
    first = import_csv(stored, path, "radio", progress=False, snapshot=True)
    again = import_csv(stored, path, "radio", progress=False, snapshot=True)
    assert first.playlists_deleted == 2
    assert again.changes() == {} and again.playlists_added == 0
    assert len(_stored(stored, "radio")) == 8


def test_snapshot_deleting_more_than_allowed_is_refused_whole(stored, tmp_path):
    before = _stored(stored, "radio"), _count(stored, "SELECT COUNT(*) FROM import_runs")
    cut = write_csv(tmp_path, "cut.csv", {"p0": ["s9", "s0"], "new": ["s1"]})  # 9 of 10 missing
    with pytest.raises(IngestError) as err:
        import_csv(stored, cut, "radio", progress=False, snapshot=True)
    message = str(err.value)
    assert message.startswith(f"{cut}: as a snapshot this file would delete 9 of the 10 "
                              "playlists of source 'radio' (90%, more than the allowed 20%")
    assert "import with --max-delete 91" in message
    assert (_stored(stored, "radio"), _count(stored, "SELECT COUNT(*) FROM import_runs")) \
        == before  # not even the update of p0 or the new playlist
    result = import_csv(stored, cut, "radio", progress=False, snapshot=True, max_delete=0.9)
    assert result.playlists_deleted == 9
    assert _stored(stored, "radio") == {"p0": ["s9", "s0"], "new": ["s1"]}


def test_a_bound_of_exactly_the_share_passes(stored, tmp_path):
    most = write_csv(tmp_path, "most.csv", dict(list(TONIGHT.items())[:8]))
    result = import_csv(stored, most, "radio", progress=False, snapshot=True)  # 2/10 = 20%
    assert result.playlists_deleted == 2


def test_without_snapshot_nothing_is_deleted(stored, tmp_path):
    result = import_csv(stored, write_csv(tmp_path, "few.csv", {"p0": ["s0"]}), "radio",
                        progress=False, update=True)
    assert result.playlists_deleted == 0 and len(_stored(stored, "radio")) == 10


def test_snapshot_of_a_new_source_deletes_nothing(engine, tmp_path):
    path = tmp_path / "first.jsonl"
    path.write_text('{"playlist_id": "a", "position": 0, "song_id": "x"}\n', encoding="utf-8")
    result = import_jsonl(engine, path, "fresh", progress=False, snapshot=True)
    assert (result.playlists_added, result.playlists_deleted) == (1, 0)


def test_many_deletions_cross_the_chunk_size(engine, tmp_path, monkeypatch):
    """Deleting more playlists than one ``IN``/``ANY`` chunk holds (chunks made small)."""
    from recsys.ingest import updates

    monkeypatch.setattr(updates, "SQLITE_CHUNK", 7)
    monkeypatch.setattr(updates, "PG_CHUNK", 7)
    many = {f"m{i}": [f"s{i % 13}", f"s{(i + 1) % 13}"] for i in range(40)}
    import_csv(engine, write_csv(tmp_path, "many.csv", many), "bulk", progress=False)
    keep = dict(list(many.items())[:10])
    result = import_csv(engine, write_csv(tmp_path, "keep.csv", keep), "bulk", progress=False,
                        snapshot=True, max_delete=1.0)
    assert (result.playlists_deleted, result.items_deleted) == (30, 60)
    assert _stored(engine, "bulk") == keep



def _everything(engine) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
                     for table in ("songs", "tags", "song_tags", "playlists",
                                   "playlist_items", "import_runs"))


def test_a_dry_run_reports_everything_and_writes_nothing(stored, tmp_path):
    night2 = {k: v for k, v in TONIGHT.items() if k not in ("p3", "p7")}
    night2["p0"] = ["s5", "s0", "new-song"]
    path = write_csv(tmp_path, "night2.csv", night2)
    before = _everything(stored)
    preview = import_csv(stored, path, "radio", progress=False, snapshot=True, dry_run=True)
    assert _everything(stored) == before
    assert preview.dry_run and preview.run_id is None
    assert preview.summary().startswith("DRY RUN, rolled back, nothing written: imported ")
    real = import_csv(stored, path, "radio", progress=False, snapshot=True)
    assert not real.dry_run and real.run_id is not None
    for name in ("songs_added", "playlists_deleted", "items_deleted", "playlists_replaced",
                 "items_replaced", "songs_existing"):
        assert getattr(preview, name) == getattr(real, name), name
    assert (real.playlists_deleted, real.songs_added) == (2, 1)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_file_without_its_last_line_end_is_no_snapshot(stored, tmp_path, suffix):
    """A cut that falls inside a value still parses (``Radio pl00`` for ``Radio pl007``): a
    snapshot refuses the file, a plain import notes it."""
    if suffix == "csv":
        body = CSV_HEADER + "p0,0,s0,Title s0,Artist s0\np1,0,s1,Title s1,Artist"
    else:
        body = ('{"playlist_id": "p0", "position": 0, "song_id": "s0"}\n'
                '{"playlist_id": "p1", "position": 0, "song_id": "s1"}')
    path = tmp_path / f"cut.{suffix}"
    path.write_text(body, encoding="utf-8")
    load = import_csv if suffix == "csv" else import_jsonl
    before = _stored(stored, "radio")
    with pytest.raises(IngestError, match="its last line has no line end: was it cut short"):
        load(stored, path, "radio", progress=False, snapshot=True, max_delete=1.0)
    assert _stored(stored, "radio") == before
    result = load(stored, path, "radio", progress=False)
    assert "the file does not end with a line end" in result.summary()
    path.write_text(body + "\n", encoding="utf-8")
    assert "line end" not in load(stored, path, "radio", progress=False).summary()
