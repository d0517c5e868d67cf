"""Compressed imports: every gzip member is read, and a cut, corrupt or oversized archive is an
error naming the file instead of a crash or an exhausted machine."""

from __future__ import annotations

import gzip

import pytest

from recsys.ingest import textio
from recsys.ingest.model import IngestError


def test_members_of_a_concatenated_gzip_are_all_read(tmp_path):
    path = tmp_path / "two.csv.gz"  # `cat a.gz b.gz` is a valid gzip file
    path.write_bytes(gzip.compress(b"a,1\n") + gzip.compress(b"b,2\n") + b"\0" * 8)
    assert textio.read_text(path) == "a,1\nb,2\n"


def test_a_large_file_is_read_in_pieces(tmp_path):
    text = "".join(f"p{i},{i % 50},song-{i}\n" for i in range(600_000))  # > one 16 MiB piece
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert textio.read_text(path) == text


@pytest.mark.parametrize(("damage", "message"), [
    (lambda b: b[: len(b) // 2], "cannot be decompressed"),  # cut by a failed transfer
    (lambda b: b[:20] + bytes(x ^ 0xFF for x in b[20:40]) + b[40:], "cannot be decompressed"),
    (lambda b: b + b"trailing garbage", "cannot be decompressed"),
])
def test_damaged_archives_are_errors_naming_the_file(tmp_path, damage, message):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(damage(gzip.compress(b"playlist_id,position,song_id\n" * 2000)))
    with pytest.raises(IngestError, match=message) as err:
        textio.read_text(path)
    assert "bad.csv.gz" in str(err.value)


def test_an_archive_expanding_past_the_limit_stops_early(tmp_path, monkeypatch):
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"\0" * (64 * 2**20), compresslevel=9))  # 64 MiB in ~64 KB
    monkeypatch.setattr(textio, "MAX_DECOMPRESSED", 20 * 2**20)
    with pytest.raises(IngestError, match="decompresses to more than 20,971,520 bytes: split"):
        textio.read_text(path)
