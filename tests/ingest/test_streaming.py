"""CSV and JSONL files are streamed: errors keep their exact line and byte far into a file and
inside gzip, line endings and a BOM are handled as before, and the parse holds the parsed rows,
not the file's text."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest

from recsys.ingest import IngestError, textio
from recsys.ingest.tabular import parse_csv, parse_jsonl

HEADER = "playlist_id,position,song_id,title,artist\n"


def _rows(n: int) -> str:
    return "".join(f"p{i // 10},{i % 10},s{i % 977},Song {i % 977},Artist {i % 977 % 31}\n"
                   for i in range(n))


@pytest.mark.parametrize("compress", [False, True])
def test_invalid_utf8_far_into_the_file_names_its_line_and_byte(tmp_path, compress):
    good = (HEADER + _rows(300_000)).encode()  # ~9 MB: many 1 MiB pieces before the error
    bad_line = b"p99999,0,s1,Caf\xe9 au lait,Someone\n"
    data = good + bad_line + _rows(10).encode()
    path = tmp_path / ("big.csv.gz" if compress else "big.csv")
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(IngestError) as err:
        parse_csv(path, "x")
    assert err.value.line == 300_002
    assert (f"not valid UTF-8 (byte 0xe9 at offset {len(good) + 15}, byte 16 of the line)"
            in err.value.reason)


def test_a_character_split_across_read_pieces_is_read_whole(tmp_path):
    title = "Ünïcödé " * 20
    rows = "".join(f"p{i},0,s{i},{title}{i},Ärtist\n" for i in range(40_000))
    path = tmp_path / "accents.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    catalog = parse_csv(path, "x")
    assert catalog.songs["s39999"].title == f"{title}39999".strip()
    assert catalog.songs["s17"].artist == "Ärtist"


def test_crlf_bom_and_quoted_newlines_as_before(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER.replace("\n", "\r\n") +
                     'p1,0,s1,"Two\r\nlines",A\r\np1,1,s2,B,"C, D"\r\n').encode())
    catalog = parse_csv(path, "x")
    assert catalog.songs["s1"].title == "Two\r\nlines"
    assert catalog.songs["s2"].artist == "C, D"
    assert [p.songs for p in catalog.playlists] == [["s1", "s2"]]


def test_jsonl_counts_lines_at_newlines_only(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"playlist_id": "a", "position": 0,\r "song_id": "s1"}\r\n'
                     b'\n{"playlist_id": "a", "position": 1, "song_id": }\n')
    with pytest.raises(IngestError) as err:
        parse_jsonl(path, "x")
    assert str(err.value).startswith(f"{path}:3: invalid JSON")


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"), (b"\n\r\n  \n", "empty file"), (b"\xef\xbb\xbf", "empty file"),
    (b"\xff\xfeh\x00", "UTF-16 text"),
])
def test_empty_and_utf16_files(tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(IngestError, match=message) as err:
        parse_csv(path, "x")
    assert err.value.line == 1


def test_gzip_zero_padding_then_data_is_refused(tmp_path):
    path = tmp_path / "x.csv.gz"
    path.write_bytes(gzip.compress((HEADER + _rows(5)).encode()) + b"\0" * (3 * 2**20) + b"x")
    with pytest.raises(IngestError, match="cannot be decompressed: data after the zero padding"):
        parse_csv(path, "x")
    path.write_bytes(gzip.compress((HEADER + _rows(5)).encode()) + b"\0" * (3 * 2**20))
    assert len(parse_csv(path, "x").playlists) == 1


def test_streaming_parse_holds_rows_not_the_text(tmp_path):
    """A 20 MB file of 10 million blank lines between its rows: the parse's peak memory stays
    flat (read whole, as a str and a list of lines, it took ~25 bytes per byte of it)."""
    path = tmp_path / "padded.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i in range(2_000):
            out.write(f"p{i},0,s{i % 50},Song,Artist\n" + " \n" * 5_000)
    script = ("import resource, sys; from recsys.ingest.tabular import parse_csv; "
              f"c = parse_csv({str(path)!r}, 'x'); "
              "print(len(c.playlists), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    base = ("import resource, recsys.ingest.tabular; "
            "print(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    repo = Path(__file__).resolve().parents[2]
    peaks = {}
    for name, code in (("parse", script), ("import only", base)):
        out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.split()
        peaks[name] = int(out[1])
        if name == "parse":
            assert out[0] == "2000"
    assert path.stat().st_size > 20e6
    assert peaks["parse"] - peaks["import only"] < 16 * 1024  # KiB: < 16 MB above start


def test_read_text_still_reads_whole_files(tmp_path):
    path = tmp_path / "a.txt.gz"
    path.write_bytes(gzip.compress("é\n".encode() * 3))
    assert textio.read_text(path) == "é\né\né\n"


def _through_fifo(tmp_path, data: bytes, parse):
    """``parse`` of a FIFO fed ``data`` by a thread; the outcome (result or exception), or
    a failure if the parse does not finish (it must never open the FIFO a second time)."""
    import os
    import threading

    fifo = tmp_path / "feed.csv"
    os.mkfifo(fifo)

    def feed():
        with fifo.open("wb") as out:
            out.write(data)

    outcome: list = []

    def run():
        try:
            outcome.append(parse(fifo, "x"))
        except Exception as exc:  # noqa: BLE001 - returned to the test
            outcome.append(exc)

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=run,
                                                                             daemon=True)]
    for t in threads:
        t.start()
    threads[1].join(60)
    assert outcome, "the parse of a FIFO did not finish"
    return outcome[0]


def test_a_fifo_with_invalid_utf8_names_the_line_without_reading_it_twice(tmp_path):
    data = (HEADER + _rows(50_000)).encode() + b"p9999,0,s1,Caf\xe9,A\n"
    error = _through_fifo(tmp_path, data, parse_csv)
    assert isinstance(error, IngestError) and error.line == 50_002
    assert "not valid UTF-8 (byte 0xe9" in error.reason


def test_gzip_from_a_pipe_is_measured_by_the_bytes_read(tmp_path, monkeypatch):
    """A pipe has no size: the ratio limit counts the compressed bytes read so far."""
    monkeypatch.setattr(textio, "RATIO_FLOOR", 2**20)
    monkeypatch.setattr(textio, "MAX_RATIO", 50)
    text = HEADER + _rows(150_000)  # ~5 MB, compresses ~10x: within the ratio
    catalog = _through_fifo(tmp_path, gzip.compress(text.encode()), parse_csv)
    assert not isinstance(catalog, Exception), catalog
    assert len(catalog.playlists) == 15_000
    bomb = tmp_path / "bomb"
    bomb.mkdir()
    error = _through_fifo(bomb, gzip.compress(b"\n" * (8 * 2**20)), parse_csv)
    assert isinstance(error, IngestError) and "times its compressed size" in error.reason


@pytest.mark.parametrize("compress", [False, True])
def test_reading_reports_its_position_in_the_file(tmp_path, compress):
    """The import's read progress: positions grow to the file's size (compressed bytes for
    gzip), one report per ~1 MiB piece."""
    data = (HEADER + _rows(200_000)).encode()  # ~6 MB
    path = tmp_path / ("p.csv.gz" if compress else "p.csv")
    path.write_bytes(gzip.compress(data) if compress else data)
    seen: list[int] = []
    catalog = parse_csv(path, "x", on_read=seen.append)
    assert len(catalog.playlists) == 20_000
    assert seen == sorted(seen) and seen[-1] == path.stat().st_size
    assert len(seen) >= (2 if compress else 5)


def test_a_pipe_reads_without_position_reports(tmp_path):
    seen: list[int] = []
    catalog = _through_fifo(tmp_path, (HEADER + _rows(30)).encode(),
                            lambda path, source: parse_csv(path, source, on_read=seen.append))
    assert len(catalog.playlists) == 3 and seen == []
