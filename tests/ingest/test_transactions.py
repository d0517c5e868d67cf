"""An import is one transaction: a failure while writing (not only while reading) leaves the
database as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from recsys.ingest import import_csv, writer
from tests.ingest.conftest import counts


@pytest.mark.parametrize("table", ["song_tags", "playlist_items"])
def test_a_failure_mid_write_leaves_nothing(engine, fixtures, monkeypatch, table):
    import_csv(engine, fixtures / "playlists.csv", "first", progress=False)
    before = counts(engine)
    real = writer.bulk_insert_runs

    def dies_at(conn, name, *args, **kwargs):
        if name == table:  # songs (and tags) are already written by then
            raise OSError("connection lost mid-import")
        return real(conn, name, *args, **kwargs)

    monkeypatch.setattr(writer, "bulk_insert_runs", dies_at)
    with pytest.raises(OSError, match="mid-import"):
        import_csv(engine, fixtures / "playlists.csv", "second", progress=False)
    assert counts(engine) == before
    monkeypatch.setattr(writer, "bulk_insert_runs", real)
    import_csv(engine, fixtures / "playlists.csv", "second", progress=False)  # retry works
    assert counts(engine)["playlists"] == 2 * before["playlists"]
