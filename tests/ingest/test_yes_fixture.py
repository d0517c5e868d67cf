"""Yes.com importer on the hand-written ``data/fixtures/yes_tiny`` directory."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from recsys.ingest import bulkload, import_yes, iter_playlist_batches
from tests.ingest.conftest import counts


def _songs(engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, title, artist FROM songs"))
        return {e: (t, a) for e, t, a in rows}


def test_import_tiny(engine, yes_tiny):
    result = import_yes(engine, yes_tiny, "tiny", progress=False)
    assert (result.songs_added, result.playlists_added, result.items_added) == (6, 4, 10)
    c = counts(engine)
    assert c["songs"] == 6 and c["playlists"] == 4 and c["playlist_items"] == 10
    assert c["tags"] == 3 and c["song_tags"] == 5 and c["import_runs"] == 1
    songs = _songs(engine)
    assert songs["0"] == ("Hello World (w/ Friends)", "The Testers")  # \/ unescaped
    assert songs["2"][0] == "AC/DC Tribute"
    assert songs["3"] == ("Quiet Night", "Solo Artist")  # "3 \t": space before the tab
    assert songs["5"] == ("Never Played", "")
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.external_id, s.external_id FROM playlist_items i "
            "JOIN playlists p ON p.id = i.playlist_id JOIN songs s ON s.id = i.song_id "
            "ORDER BY p.id, i.position")).all()
        tags = conn.execute(text(
            "SELECT t.name FROM song_tags st JOIN tags t ON t.id = st.tag_id "
            "JOIN songs s ON s.id = st.song_id WHERE s.external_id = '0' ORDER BY t.name"
        )).scalars().all()
    by_pl: dict[str, list[str]] = {}
    for pl, song in rows:
        by_pl.setdefault(pl, []).append(song)
    assert by_pl == {"0": ["0", "1", "2"], "1": ["3", "4"], "2": ["2"], "3": ["0", "1", "0", "3"]}
    assert tags == ["pop", "rock"]
    batches = list(iter_playlist_batches(engine, batch_size=3))
    assert [len(b) for b in batches] == [3, 1]
    assert [len(p) for b in batches for p in b] == [3, 2, 1, 4]


def test_reimport_adds_nothing_and_appended_playlists_are_added(engine, yes_tiny):
    import_yes(engine, yes_tiny, "tiny", progress=False)
    before = counts(engine)
    again = import_yes(engine, yes_tiny, "tiny", progress=False)
    assert (again.songs_added, again.playlists_added, again.items_added) == (0, 0, 0)
    assert again.playlists_existing == 4
    after = counts(engine)
    assert after == {**before, "import_runs": before["import_runs"] + 1}
    # the nightly file grows: two more playlists (header line 2 recounted)
    train = yes_tiny / "train.txt"
    lines = train.read_text().splitlines()
    lines[1] = "3 3 2 2 2 1 "
    train.write_text("\n".join(lines + ["5 1 ", "4 "]) + "\n")
    more = import_yes(engine, yes_tiny, "tiny", progress=False)
    assert (more.playlists_added, more.items_added, more.songs_added) == (2, 3, 0)
    assert counts(engine)["playlists"] == 6


def test_no_train_imports_songs_and_tags_only(engine, yes_tiny):
    (yes_tiny / "train.txt").unlink()
    result = import_yes(engine, yes_tiny, "tiny", progress=False)
    assert result.songs_added == 6 and result.playlists_added == 0
    assert "no train.txt" in result.summary()
    c = counts(engine)
    assert c["playlists"] == 0 and c["song_tags"] == 5


def test_source_defaults_to_directory_name(sqlite_url, yes_tiny):
    from recsys.db.session import make_engine

    engine = make_engine(sqlite_url)
    assert import_yes(engine, yes_tiny, progress=False).source == "yes_tiny"
    engine.dispose()


def test_cli_import_yes(runner, yes_tiny, app_engine):
    result = runner.invoke(args=["import", "yes", str(yes_tiny), "--source", "tiny"])
    assert result.exit_code == 0, result.output
    assert "4 playlists added" in result.output
    assert counts(app_engine)["playlist_items"] == 10


def test_cli_import_of_lines_cut_from_a_bigger_file(runner, yes_tiny, app_engine):
    train = yes_tiny / "train.txt"
    lines = train.read_text().splitlines(keepends=True)
    train.write_text("".join(lines[:4]))  # the first two playlists, header counts unchanged
    refused = runner.invoke(args=["import", "yes", str(yes_tiny), "--source", "tiny"])
    assert refused.exit_code == 1
    assert "train.txt:2: header says song 0 appears 3 times" in refused.output
    assert "--ignore-header-counts" in refused.output  # the way out is named
    assert counts(app_engine)["playlists"] == 0
    args = ["import", "yes", str(yes_tiny), "--source", "tiny", "--ignore-header-counts"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0 and "2 playlists added" in result.output, result.output
    assert counts(app_engine)["playlist_items"] == 5


def test_a_new_source_beside_others_is_named_as_a_second_catalog(engine, yes_tiny, caplog):
    first = import_yes(engine, yes_tiny, "tiny", progress=False)
    again = import_yes(engine, yes_tiny, "tiny", progress=False)  # same source: no note
    assert "new source" not in first.summary() + again.summary()
    other = import_yes(engine, yes_tiny, "copy", progress=False)
    assert other.songs_added == 6
    assert "new source 'copy' beside 'tiny' (6 songs)" in other.summary()
    assert "not matched across sources" in caplog.text


def test_foreign_keys_restored_after_bulk_load(engine, yes_tiny, monkeypatch):
    """The bulk-load shortcuts (SQLite pragma, PostgreSQL FK drop/re-add) leave FKs enforced."""
    monkeypatch.setattr(bulkload, "MIN_ROWS", 0)  # take the drop/re-add paths
    import_yes(engine, yes_tiny, "tiny", progress=False)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            n = conn.execute(text("SELECT COUNT(*) FROM pg_constraint WHERE contype = 'f' AND "
                                  "conrelid IN ('playlist_items'::regclass, "
                                  "'song_tags'::regclass)")).scalar_one()
        assert n == 4
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO playlist_items (playlist_id, position, song_id) "
                          "SELECT MIN(id), 99, 999999 FROM playlists"))
    assert counts(engine)["playlist_items"] == 10
