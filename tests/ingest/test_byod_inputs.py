"""A company bringing its own CSV/JSONL export: compressed, re-encoded, spreadsheet-made and
re-sent files either import or fail with a message that says what to do; changes to rows
already in the database are reported instead of dropped silently."""

from __future__ import annotations

import gzip
import shutil

import pytest
from sqlalchemy import text

from tests.ingest.conftest import counts

HEADER = "playlist_id,position,song_id,title,artist,tags,playlist_name\n"


def _import(runner, path, kind="csv"):
    return runner.invoke(args=["import", kind, str(path)])


def _rejected(runner, engine, path, *expected):
    before = counts(engine)
    result = _import(runner, path)
    assert result.exit_code != 0, result.output
    for part in expected:
        assert part in result.output, result.output
    assert counts(engine) == before
    return result


@pytest.fixture
def loaded(runner, fixtures, app_engine):
    result = _import(runner, fixtures / "playlists.csv")
    assert result.exit_code == 0, result.output
    return app_engine


def test_gzip_file_imports_like_the_plain_one(runner, fixtures, app_engine, tmp_path):
    path = tmp_path / "playlists.csv.gz"
    path.write_bytes(gzip.compress((fixtures / "playlists.csv").read_bytes()))
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert "3 playlists added" in result.output
    assert counts(app_engine)["playlist_items"] == 7


def test_gzip_jsonl_imports(runner, fixtures, app_engine, tmp_path):
    path = tmp_path / "playlists.jsonl.gz"
    path.write_bytes(gzip.compress((fixtures / "playlists.jsonl").read_bytes()))
    result = _import(runner, path, "jsonl")
    assert result.exit_code == 0, result.output
    assert counts(app_engine)["playlist_items"] == 7


def test_bad_line_in_gzip_names_the_decompressed_line(runner, loaded, tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress((HEADER + "p,0,s1,T,A,,\np,2,s2,T,A,,\n").encode()))
    _rejected(runner, loaded, path, "bad.csv.gz:3: position gap in playlist 'p'")


def test_cut_gzip_is_an_error(runner, loaded, fixtures, tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress((fixtures / "playlists.csv").read_bytes())[:40])
    _rejected(runner, loaded, path, "cut.csv.gz: gzip-compressed but cannot be decompressed")


def test_utf16_says_utf16(runner, loaded, fixtures, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes((fixtures / "playlists.csv").read_text(encoding="utf-8").encode("utf-16"))
    _rejected(runner, loaded, path, "excel.csv:1: UTF-16 text", "iconv -f UTF-16 -t UTF-8")


def test_latin1_says_how_to_convert(runner, loaded, tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "p,0,s1,Caf\xe9,A,,\n").encode("latin-1"))
    _rejected(runner, loaded, path, "latin1.csv:2: not valid UTF-8 (byte 0xe9",
              "byte 11 of the line", "iconv -f WINDOWS-1252 -t UTF-8")


def test_header_names_ignore_case(runner, app_engine, tmp_path):
    path = tmp_path / "upper.csv"
    path.write_text("Playlist_ID,Position,Song_ID,Title,ARTIST,Tags\np,0,s1,T,A,rock\n")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    with app_engine.connect() as conn:
        assert conn.execute(text("SELECT title, artist FROM songs")).one() == ("T", "A")
        assert conn.execute(text("SELECT name FROM tags")).scalar_one() == "rock"


@pytest.mark.parametrize(("sep", "name"), [(";", "';'"), ("\t", "tabs")])
def test_other_separator_is_named(runner, loaded, tmp_path, sep, name):
    path = tmp_path / "excel.csv"
    path.write_text(sep.join(["playlist_id", "position", "song_id", "title", "artist"])
                    + "\n" + sep.join(["p", "0", "s1", "T", "A"]) + "\n")
    _rejected(runner, loaded, path, "excel.csv:1: missing column(s)", "1 column(s)",
              f"the file seems separated by {name}")


def test_missing_column_shows_the_header(runner, loaded, tmp_path):
    path = tmp_path / "spaces.csv"
    path.write_text("playlist id,position,song id,title,artist\np,0,s1,T,A\n")
    _rejected(runner, loaded, path, "missing column(s): playlist_id, song_id",
              "'playlist id', 'position', 'song id'")


def test_rows_of_empty_fields_are_blank_lines(runner, app_engine, tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text(HEADER + "p,0,s1,T,A,,\n,,,,,,\n\np,1,s2,U,A,,\n,,,,,,\n , ,,,,,\n")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert counts(app_engine)["playlist_items"] == 2


def test_too_many_fields_hints_at_quoting(runner, loaded, tmp_path):
    path = tmp_path / "comma.csv"
    path.write_text(HEADER + "p,0,s1,Hello, World,A,,\n")
    _rejected(runner, loaded, path, "comma.csv:2: expected 7 fields, got 8",
              "unquoted comma")


def test_unsorted_rows_hint_at_sorting(runner, loaded, tmp_path):
    path = tmp_path / "unsorted.csv"
    path.write_text(HEADER + "p,0,s1,T,A,,\np,2,s3,T3,A,,\np,1,s2,T2,A,,\n")
    _rejected(runner, loaded, path, "unsorted.csv:3: position gap",
              "must be sorted by position")


def test_playlist_twice_in_a_file(runner, loaded, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text(HEADER + "p,0,s1,T,A,,\nq,0,s2,U,A,,\np,0,s1,,,,\n")
    _rejected(runner, loaded, path, "twice.csv:4: rows of playlist 'p' are not contiguous "
              "(it started on line 2; a file holds each playlist once")


def test_suspicious_tag_names_are_reported(runner, app_engine, tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text(HEADER + 'p,0,s1,T,A,"rock,pop",\np,1,s2,U,A,Rock|chill,\n'
                    "p,2,s3,V,A,rock|CHILL,\n")
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert "1 tag name(s) contain ',' or ';' (e.g. 'rock,pop')" in result.output
    assert "2 tag name(s) come in several letter cases" in result.output


def test_changes_to_existing_rows_are_reported(runner, loaded, fixtures, tmp_path):
    """A nightly file that re-titles a song and edits a playlist: nothing is updated (as
    documented) but the summary says so, with examples."""
    path = tmp_path / "night.csv"
    shutil.copy(fixtures / "playlists.csv", path)
    edited = path.read_text(encoding="utf-8")
    edited = edited.replace("Highway Song", "Highway Song (Remastered)")
    edited = edited.replace("just-one,0,s6,Only Song,Single Act", "just-one,0,s5,,")
    path.write_text(edited, encoding="utf-8")
    before = counts(loaded)
    result = _import(runner, path)
    assert result.exit_code == 0, result.output
    assert ("1 song(s) already in the database have another title or artist in this file "
            "('s1')") in result.output
    assert "1 playlist(s) already in the database have other songs in this file ('just-one')" \
        in result.output
    after = counts(loaded)
    assert {k: v for k, v in after.items() if k != "import_runs"} == \
        {k: v for k, v in before.items() if k != "import_runs"}
    with loaded.connect() as conn:
        title = conn.execute(text("SELECT title FROM songs WHERE external_id = 's1'"))
        assert title.scalar_one() == "Highway Song"


def test_unchanged_reimport_reports_nothing(runner, loaded, fixtures):
    result = _import(runner, fixtures / "playlists_more.csv")
    assert result.exit_code == 0, result.output
    assert "already in the database have" not in result.output


def test_source_differing_only_in_case_is_refused(runner, loaded, fixtures):
    """A nightly with ``--source Custom`` beside ``custom`` would duplicate the catalog."""
    before = counts(loaded)
    result = runner.invoke(args=["import", "csv", str(fixtures / "playlists_more.csv"),
                                 "--source", "Custom"])
    assert result.exit_code != 0, result.output
    assert ("source 'Custom' differs from the existing source 'custom' only in letter case"
            in result.output), result.output
    assert "import with --source custom" in result.output
    assert counts(loaded) == before
