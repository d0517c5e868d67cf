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
