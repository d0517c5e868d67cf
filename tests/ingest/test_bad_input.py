"""Bad input: the first bad line stops the import (FILE:LINE: reason), nothing is written."""

from __future__ import annotations

import shutil

import pytest

from tests.ingest.conftest import counts


def _check_rejected(runner, app_engine, args, expected):
    """Import a good file first, then the bad one: exit 1, message, counts unchanged."""
    before = counts(app_engine)
    result = runner.invoke(args=args)
    assert result.exit_code != 0, result.output
    assert expected in result.output, result.output
    assert counts(app_engine) == before


def _edit(path, line_no, new):
    lines = path.read_bytes().split(b"\n")
    lines[line_no - 1] = new
    path.write_bytes(b"\n".join(lines))


@pytest.fixture
def loaded(runner, fixtures, app_engine):
    """The app database with playlists.csv already imported (so 'unchanged' means something)."""
    result = runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv")])
    assert result.exit_code == 0, result.output
    return app_engine


YES_CASES = [
    ("train.txt", 4, b"3 x4 ", "train.txt:4: song id 'x4' is not a non-negative integer"),
    ("train.txt", 5, b"2 17 ", "train.txt:5: unknown song id 17"),
    ("train.txt", 5, b"", "train.txt:5: empty playlist line"),
    ("train.txt", 2, b"3 2 2 2 1 ", "train.txt:2: header has 5 appearance counts"),
    ("train.txt", 6, b"0 1 0 ", "train.txt:2: header says song 3 appears 2 times"),
    ("song_hash.txt", 3, b"2\tAC\\/DC Tribute", "song_hash.txt:3: expected 'ID<TAB>Title"),
    ("song_hash.txt", 2, b"one\tSecond Song\tThe Testers", "song_hash.txt:2: song id 'one'"),
    ("song_hash.txt", 2, b"7\tSecond Song\tThe Testers", "song_hash.txt:2: song id 7 out of"),
    ("song_hash.txt", 2, b"1\tSecond \xff Song\tThe Testers", "song_hash.txt:2: not valid UTF-8"),
    ("song_hash.txt", 2, b"1\t" + b"x" * 600 + b"\tA", "song_hash.txt:2: title or artist"),
    ("tags.txt", 2, b"9", "tags.txt:2: unknown tag id 9"),
    ("tags.txt", 4, b"", "tags.txt:4: empty line"),
    ("tag_hash.txt", 2, b"1 pop", "tag_hash.txt:2: expected 'ID, name'"),
    ("song_hash.txt", 2, b"1\tSecond\x00Song\tThe Testers", "song_hash.txt:2: title or artist "
                                                          "contains a NUL"),
]


@pytest.mark.parametrize(("name", "line", "new", "expected"), YES_CASES)
def test_yes_bad_line(runner, loaded, yes_tiny, name, line, new, expected):
    _edit(yes_tiny / name, line, new)
    _check_rejected(runner, loaded, ["import", "yes", str(yes_tiny)], expected)


def test_yes_truncated_file(runner, loaded, yes_tiny):
    train = yes_tiny / "train.txt"
    train.write_bytes(train.read_bytes()[:-3])  # cut inside the last playlist line
    _check_rejected(runner, loaded, ["import", "yes", str(yes_tiny)],
                    "train.txt:6: truncated line")


def test_yes_fewer_tag_lines(runner, loaded, yes_tiny):
    tags = yes_tiny / "tags.txt"
    tags.write_text("0 1\n0\n")
    _check_rejected(runner, loaded, ["import", "yes", str(yes_tiny)], "tags.txt:3: 2 lines")


@pytest.mark.parametrize("name", ["song_hash.txt", "train.txt", "tags.txt"])
def test_yes_empty_and_missing_files(runner, loaded, yes_tiny, name):
    (yes_tiny / name).write_bytes(b"")
    _check_rejected(runner, loaded, ["import", "yes", str(yes_tiny)], f"{name}:1: empty file")
    (yes_tiny / name).unlink()
    if name != "train.txt":  # train.txt is optional (yes_complete has none)
        _check_rejected(runner, loaded, ["import", "yes", str(yes_tiny)],
                        f"{name}: no such file")


def test_yes_missing_directory(runner, loaded, tmp_path):
    _check_rejected(runner, loaded, ["import", "yes", str(tmp_path / "nope")],
                    "no such directory")


CSV_CASES = [
    (3, b"road-trip,1,s2", "playlists.csv:3: expected 7 fields, got 3 (truncated line?)"),
    (3, b"road-trip,one,s2,T,A,,", "playlists.csv:3: position 'one' is not a non-negative"),
    (3, b"road-trip,-1,s2,T,A,,", "playlists.csv:3: position '-1' is not"),
    (3, b"road-trip,3,s2,T,A,,", "playlists.csv:3: position gap in playlist 'road-trip'"),
    (3, b"road-trip,0,s2,T,A,,", "playlists.csv:3: duplicate position 0"),
    (5, b"lazy-sunday,1,s4,,,,", "playlists.csv:5: playlist 'lazy-sunday' starts at position 1"),
    (8, b"road-trip,3,s1,,,,", "playlists.csv:8: rows of playlist 'road-trip' are not contig"),
    (7, b"lazy-sunday,2,s4,Other Title,,,", "playlists.csv:7: conflicting title for song 's4'"),
    (7, b"lazy-sunday,2,,,,,", "playlists.csv:7: playlist_id and song_id must not be empty"),
    (1, b"playlist_id,position,song_id,title,tags", "playlists.csv:1: missing column(s): art"),
    (1, b"playlist_id,position,song_id,title,artist,tags,artist",
     "playlists.csv:1: repeated column(s): artist"),
    (6, b"lazy-sunday,1,s5,Caf\xe9,Mellow Trio,jazz,", "playlists.csv:6: not valid UTF-8"),
    (4, b'road-trip,2,s3,"Open Sky,Blue Horizon,rock,', "playlists.csv:4:"),
    (6, b"lazy-sunday,1,s5,Caf\x00e,Mellow Trio,jazz,", "playlists.csv:6: title contains a NUL"),
]


@pytest.mark.parametrize(("line", "new", "expected"), CSV_CASES)
def test_csv_bad_line(runner, loaded, fixtures, tmp_path, line, new, expected):
    path = tmp_path / "playlists.csv"
    shutil.copy(fixtures / "playlists.csv", path)
    _edit(path, line, new)
    _check_rejected(runner, loaded, ["import", "csv", str(path)], expected)


JSONL_CASES = [
    (2, b'{"playlist_id": "road-trip", "position": 1, "song_id": "s2"', "invalid JSON"),
    (2, b'["road-trip", 1, "s2"]', "playlists.jsonl:2: expected a JSON object"),
    (2, b'{"playlist_id": "road-trip", "song_id": "s2", "title": "T", "artist": "A"}',
     "playlists.jsonl:2: missing field(s): position"),
    (2, b'{"playlist_id": "road-trip", "position": 1.5, "song_id": "s2", "title": "", '
        b'"artist": ""}', "playlists.jsonl:2: position 1.5"),
    (2, b'{"playlist_id": "road-trip", "position": 1, "song_id": ["s2"], "title": "", '
        b'"artist": ""}', "playlists.jsonl:2: song_id must be a string"),
    (2, b'{"playlist_id": "road-trip", "position": 1, "song_id": "s2", "title": "", '
        b'"artist": "", "tags": [1]}', "playlists.jsonl:2: tags must be a list of strings"),
    (6, b'{"playlist_id": "lazy-sunday", "position": 2, "song_id": "s4", '
        b'"artist": "Somebody Else"}', "playlists.jsonl:6: conflicting artist for song 's4'"),
    (2, b'{"playlist_id": "road-trip", "position": 1, "song_id": "s2", "title": "a\\u0000b", '
        b'"artist": ""}', "playlists.jsonl:2: title contains a NUL"),
]


@pytest.mark.parametrize(("line", "new", "expected"), JSONL_CASES)
def test_jsonl_bad_line(runner, loaded, fixtures, tmp_path, line, new, expected):
    path = tmp_path / "playlists.jsonl"
    shutil.copy(fixtures / "playlists.jsonl", path)
    _edit(path, line, new)
    _check_rejected(runner, loaded, ["import", "jsonl", str(path)], expected)


@pytest.mark.parametrize(("kind", "content", "expected"), [
    ("csv", b"", "x.csv:1: empty file"),
    ("csv", b"playlist_id,position,song_id,title,artist\n", "x.csv:1: empty file: no playlist"),
    ("jsonl", b"\n\n", "x.jsonl:1: empty file"),
])
def test_empty_files(runner, loaded, tmp_path, kind, content, expected):
    path = tmp_path / f"x.{kind}"
    path.write_bytes(content)
    _check_rejected(runner, loaded, ["import", kind, str(path)], expected)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_missing_file(runner, loaded, tmp_path, kind):
    _check_rejected(runner, loaded, ["import", kind, str(tmp_path / f"nope.{kind}")],
                    f"nope.{kind}: no such file")


def test_rejected_on_postgres_too(make_app, db_url, yes_tiny):
    """One corrupted line through the CLI on both backends: exit 1, nothing written."""
    from recsys.db.session import make_engine

    app = make_app(db_url)
    runner = app.test_cli_runner()
    engine = make_engine(db_url)
    _edit(yes_tiny / "train.txt", 5, b"2 99 ")
    result = runner.invoke(args=["import", "yes", str(yes_tiny)])
    assert result.exit_code == 1 and "train.txt:5: unknown song id 99" in result.output
    assert set(counts(engine).values()) == {0}
    engine.dispose()
