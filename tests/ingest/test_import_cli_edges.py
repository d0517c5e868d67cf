"""Command-line edges of ``import``: exclusive modes and what a piped file is recorded as."""

from __future__ import annotations

import pytest
from sqlalchemy import text

HEADER = "playlist_id,position,song_id,title,artist,tags,playlist_name\n"


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("playlists", "playlist_items", "songs", "import_runs",
                              "training_runs")}


@pytest.mark.parametrize("command", [
    ["import", "csv", "{csv}", "--update", "--snapshot"],
    ["import", "jsonl", "{jsonl}", "--snapshot", "--update", "--dry-run"],
    ["retrain", "--import", "csv:{csv}", "--update", "--snapshot"],
])
def test_update_with_snapshot_is_a_usage_error(runner, fixtures, app_engine, tmp_path,
                                               command):
    assert runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv")]).exit_code == 0
    night = tmp_path / "night.csv"
    night.write_text(HEADER + "road-trip,0,s1,Highway Song (Remastered),,,\n", encoding="utf-8")
    before = _counts(app_engine)
    args = [a.format(csv=night, jsonl=fixtures / "playlists.jsonl") for a in command]
    result = runner.invoke(args=args)
    assert result.exit_code == 2, result.output
    assert "--update and --snapshot are exclusive" in result.output
    assert "already applies the file as --update does" in result.output
    assert _counts(app_engine) == before  # nothing written, nothing deleted, no run recorded


def _piped(runner, content: str, *args: str):
    """``import csv /dev/fd/N`` of a pipe another thread writes ``content`` into (a shell's
    ``import csv <(gen)``)."""
    import os
    import threading

    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "w", encoding="utf-8") as fh:
            fh.write(content)

    feeder = threading.Thread(target=feed)
    feeder.start()
    try:
        path = f"/dev/fd/{read_fd}"
        return path, runner.invoke(args=["import", "csv", path, *args])
    finally:
        feeder.join(10)
        os.close(read_fd)


def _recorded_paths(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT path FROM import_runs ORDER BY id")).scalars())


def test_a_piped_import_is_recorded_as_a_pipe(runner, app_engine):
    path, result = _piped(runner, HEADER + "p1,0,s1,Song One,Artist,,\n", "--source", "feed")
    assert result.exit_code == 0, result.output
    assert _recorded_paths(app_engine) == [f"(pipe) {path}"]
    path, bad = _piped(runner, HEADER + "p2,first,s2,Two,Artist,,\n", "--source", "feed")
    assert bad.exit_code == 1 and f"Error: {path}:2: " in bad.output  # as typed
    assert len(_recorded_paths(app_engine)) == 1


def test_a_file_opened_through_a_descriptor_is_recorded_by_its_name(runner, app_engine,
                                                                    tmp_path):
    import os

    file = tmp_path / "feed.csv"
    file.write_text(HEADER + "p1,0,s1,Song One,Artist,,\n", encoding="utf-8")
    fd = os.open(file, os.O_RDONLY)  # `import csv /dev/stdin < feed.csv`
    try:
        result = runner.invoke(args=["import", "csv", f"/dev/fd/{fd}"])
    finally:
        os.close(fd)
    assert result.exit_code == 0, result.output
    runner.invoke(args=["import", "csv", str(file)])  # a plain path: kept as given
    assert _recorded_paths(app_engine) == [str(file), str(file)]
