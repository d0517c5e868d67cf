"""Security walk: a small gzip file that expands a thousandfold (a decompression bomb) is
refused long before the absolute limit; imports are parsed in memory, where 512 MiB of
newlines took 8.6 GB (a 4 GiB one, still under the absolute limit, would take ~70 GB)."""

from __future__ import annotations

import gzip
import resource

import pytest

from recsys.ingest import textio
from recsys.ingest.model import IngestError


def _bomb(path, mib: int) -> None:
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"playlist_id,position,song_id,title,artist\n")
        chunk = b"\n" * 2**20
        for _ in range(mib):
            out.write(chunk)


def test_a_decompression_bomb_is_refused_by_its_ratio(tmp_path):
    path = tmp_path / "bomb.csv.gz"
    _bomb(path, 160)  # 160 MiB of newlines in ~160 KB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(IngestError, match="times its compressed size") as err:
        textio.read_text(path)
    assert "bomb.csv.gz" in str(err.value)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 200 * 1024  # stopped at the ratio's allowance, not at 4 GiB


def test_well_compressed_small_files_still_read(tmp_path):
    path = tmp_path / "small.csv.gz"
    _bomb(path, 8)  # under the floor: any ratio is fine
    assert textio.read_text(path).count("\n") == 8 * 2**20 + 1
