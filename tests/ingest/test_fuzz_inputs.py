"""Inputs found by fuzzing: deeply nested JSON, lone surrogates (JSON escapes, file names,
source names) and files compressed otherwise than with gzip are ``FILE:LINE: reason`` errors
that write nothing, never a traceback."""

from __future__ import annotations

import bz2
import json
import lzma
import zipfile

import pytest
from sqlalchemy import text

from recsys.ingest import IngestError, import_csv, import_jsonl
from recsys.ingest.tabular import parse_csv, parse_jsonl
from recsys.ingest.textio import read_text
from tests.ingest.conftest import counts

ROW = {"playlist_id": "p1", "position": 0, "song_id": "s1", "title": "T", "artist": "A",
       "tags": ["rock"], "playlist_name": "N"}
CSV = "playlist_id,position,song_id,title,artist\np1,0,s1,Song,Artist\n"


def _jsonl(path, **fields):
    """One JSONL row; ``json.dumps`` writes a lone surrogate as its ASCII escape."""
    path.write_text(json.dumps(ROW | fields) + "\n")
    return path


def test_deeply_nested_json_is_an_error_naming_the_line(loaded_app, runner, tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text(json.dumps(ROW) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(IngestError, match=r"deep\.jsonl:2: invalid JSON \(nested too deeply\)"):
        parse_jsonl(deep, "s")
    before = counts(loaded_app)
    result = runner.invoke(args=["import", "jsonl", str(deep)])
    assert result.exit_code == 1 and "deep.jsonl:2: invalid JSON (nested too deeply)" \
        in result.output, result.output
    assert not isinstance(result.exception, RecursionError)
    assert counts(loaded_app) == before


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("title", "\udc80", "title is not valid Unicode (a lone surrogate \\udc80)"),
    ("artist", "Ab\ud800c", "artist is not valid Unicode (a lone surrogate \\ud800)"),
    ("song_id", "s\udfff", "song_id is not valid Unicode (a lone surrogate \\udfff)"),
    ("playlist_id", "\udc80p", "playlist_id is not valid Unicode"),
    ("playlist_name", "n\udc80", "playlist_name is not valid Unicode"),
    ("tags", ["ok", "x\udcff"], "a tag is not valid Unicode (a lone surrogate \\udcff)"),
    ("tags", "ok|x\udcff", "a tag is not valid Unicode (a lone surrogate \\udcff)"),
])
def test_lone_surrogates_are_rejected_by_row_validation(engine, tmp_path, field, value,
                                                        expected):
    path = _jsonl(tmp_path / "s.jsonl", **{field: value})
    with pytest.raises(IngestError) as info:
        parse_jsonl(path, "s")
    assert str(info.value).startswith(f"{path}:1: {expected}")
    str(info.value).encode("utf-8")  # the message itself is printable
    with pytest.raises(IngestError, match="not valid Unicode"):
        import_jsonl(engine, path, "s", progress=False)
    assert not any(counts(engine).values())


def test_surrogate_pairs_are_characters_not_errors(tmp_path):
    path = _jsonl(tmp_path / "ok.jsonl", title="\U0001f3b5 Beyonc\u00e9", tags=["d\u00e9j\u00e0"])
    assert "\\ud83c" in path.read_text()  # written as a pair of escapes
    song = parse_jsonl(path, "s").songs["s1"]
    assert song.title == "\U0001f3b5 Beyonc\u00e9" and song.tags == ("d\u00e9j\u00e0",)


def test_a_source_with_a_lone_surrogate_is_refused(engine, tmp_path):
    path = tmp_path / "ok.csv"
    path.write_text(CSV)
    with pytest.raises(IngestError, match=r"--source: source '\\udcff' is not valid Unicode"):
        import_csv(engine, path, "\udcff", progress=False)
    assert not any(counts(engine).values())


def test_a_file_name_in_another_encoding_is_imported_and_stored_printable(engine, tmp_path):
    """Python names an undecodable file name byte with a lone surrogate; the import reads
    the file and stores (and logs) the name with that byte escaped."""
    path = tmp_path / "ok\udcffname.csv"
    path.write_text(CSV)
    result = import_csv(engine, path, "s", progress=False)
    assert result.playlists_added == 1 and "ok\\udcffname.csv" in result.summary()
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT path FROM import_runs")).scalar_one()
    assert stored == str(path).encode("utf-8", "backslashreplace").decode()
    bad = tmp_path / "bad\udcff.csv"
    bad.write_text(CSV + "p2,x,s2,Song,Artist\n")
    with pytest.raises(IngestError) as info:
        import_csv(engine, bad, "s", progress=False)
    assert "bad\\udcff.csv:3: position 'x'" in str(info.value)
    str(info.value).encode("utf-8")


def _zip(data: bytes) -> bytes:
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("ok.csv", data)
    return out.getvalue()


@pytest.mark.parametrize(("suffix", "compress", "name", "tool"), [
    ("bz2", bz2.compress, "bzip2", "bunzip2"),
    ("bz2", lambda data: bz2.compress(b""), "bzip2", "bunzip2"),  # an empty stream
    ("xz", lzma.compress, "xz", "unxz"),
    ("zst", lambda data: b"\x28\xb5\x2f\xfd" + data, "zstd", "unzstd"),
    ("zip", _zip, "zip", "unzip"),
])
def test_other_compressed_files_say_only_gzip_is_read(loaded_app, runner, tmp_path, suffix,
                                                      compress, name, tool):
    path = tmp_path / f"ok.csv.{suffix}"
    path.write_bytes(compress(CSV.encode()))
    expected = f"{path}: compressed with {name}: only gzip-compressed files are read"
    for read in (lambda: parse_csv(path, "s"), lambda: read_text(path)):
        with pytest.raises(IngestError) as info:
            read()
        assert str(info.value).startswith(expected) and f"{tool} " in str(info.value)
    before = counts(loaded_app)
    result = runner.invoke(args=["import", "csv", str(path)])
    assert result.exit_code == 1 and expected in result.output, result.output
    assert "UTF-8" not in result.output and counts(loaded_app) == before


def test_text_that_starts_like_bzip2_is_still_text(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("BZh9 is not a bzip2 stream\n")
    assert read_text(path).startswith("BZh9")


@pytest.fixture
def loaded_app(runner, app_engine, tmp_path):
    """The CLI app's database with one playlist (so 'unchanged' means something)."""
    path = tmp_path / "first.csv"
    path.write_text(CSV)
    result = runner.invoke(args=["import", "csv", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    return app_engine
