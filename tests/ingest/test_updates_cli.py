"""``python -m recsys import csv|jsonl|yes [--update]``: what the summary says about re-sent
rows, and that the flag reaches the importer."""

from __future__ import annotations

import json

from sqlalchemy import text

HEADER = "playlist_id,position,song_id,title,artist,tags,playlist_name\n"


def _title(engine, ext: str, source: str = "custom") -> tuple[str, str]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT title, artist FROM songs WHERE source = :s AND external_id = :e"),
            {"s": source, "e": ext}).one())


def _items(engine, playlist: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT s.external_id FROM playlist_items i JOIN playlists p ON p.id = i.playlist_id "
            "JOIN songs s ON s.id = i.song_id WHERE p.external_id = :p ORDER BY i.position"),
            {"p": playlist}).scalars())


def test_import_csv_update_flag(runner, client, fixtures, app_engine, tmp_path):
    assert runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv")]).exit_code == 0
    edited = tmp_path / "night.csv"
    edited.write_text(HEADER + "road-trip,0,s1,Highway Song (Remastered),,,\n"
                      "road-trip,1,s3,,,,\njust-one,0,s6,,,,\n", encoding="utf-8")
    kept = runner.invoke(args=["import", "csv", str(edited)])
    assert kept.exit_code == 0, kept.output
    assert "('s1'): the database keeps its values (import with --update to apply" in kept.output
    assert "('road-trip'): the database keeps its version (import with --update to replace" \
        in kept.output
    assert _title(app_engine, "s1")[0] == "Highway Song"
    assert _items(app_engine, "road-trip") == ["s1", "s2", "s3"]
    result = runner.invoke(args=["import", "csv", str(edited), "--update"])
    assert result.exit_code == 0, result.output
    assert "1 songs updated (title/artist from the file: 's1')" in result.output
    assert "1 playlists replaced (items from the file: 'road-trip'; 2 items written)" \
        in result.output
    assert _title(app_engine, "s1") == ("Highway Song (Remastered)", "The Drivers")
    assert _items(app_engine, "road-trip") == ["s1", "s3"]
    assert _items(app_engine, "lazy-sunday") == ["s4", "s5", "s4"]  # not in the file
    again = runner.invoke(args=["import", "csv", str(edited), "--update"])
    assert again.exit_code == 0 and "updated" not in again.output and "replaced" not in \
        again.output, again.output
    found = client.get("/api/songs?q=remastered").get_json()
    assert [s["external_id"] for s in found["items"]] == ["s1"]
    with app_engine.connect() as conn:  # each run records what it changed (migration 0008)
        changes = [json.loads(c) if isinstance(c, str) else c for c in conn.execute(text(
            "SELECT changes FROM import_runs ORDER BY id")).scalars()]
    assert changes == [{}, {}, {"songs_updated": 1, "playlists_replaced": 1,
                                "items_replaced": 2}, {}]


def test_import_jsonl_update_flag(runner, fixtures, app_engine, tmp_path):
    assert runner.invoke(args=["import", "jsonl", str(fixtures / "playlists.jsonl")]
                         ).exit_code == 0
    edited = tmp_path / "night.jsonl"
    edited.write_text(json.dumps({"playlist_id": "just-one", "position": 0, "song_id": "s6",
                                  "title": "Only Song", "artist": "Single Act feat. Guest"})
                      + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", "jsonl", str(edited), "--update"])
    assert result.exit_code == 0, result.output
    assert _title(app_engine, "s6") == ("Only Song", "Single Act feat. Guest")


def test_import_yes_update_flag(runner, yes_tiny, app_engine):
    assert runner.invoke(args=["import", "yes", str(yes_tiny), "--source", "tiny"]
                         ).exit_code == 0
    hashes = yes_tiny / "song_hash.txt"
    text_ = hashes.read_text()
    hashes.write_text(text_.replace("Second Song", "Second Song (Live)")
                      .replace("Never Played\t", "Never Played\tLate Artist"))
    result = runner.invoke(args=["import", "yes", str(yes_tiny), "--source", "tiny"])
    assert result.exit_code == 0, result.output
    assert "1 songs' missing titles/artists filled in ('5')" in result.output
    assert "1 song(s) already in the database have another title or artist" in result.output
    assert _title(app_engine, "5", "tiny") == ("Never Played", "Late Artist")
    assert _title(app_engine, "1", "tiny") == ("Second Song", "The Testers")
    result = runner.invoke(args=["import", "yes", str(yes_tiny), "--source", "tiny", "--update"])
    assert result.exit_code == 0, result.output
    assert "1 songs updated (title/artist from the file: '1')" in result.output
    assert _title(app_engine, "1", "tiny") == ("Second Song (Live)", "The Testers")


def test_help_says_what_update_does(runner):
    for kind in ("csv", "jsonl", "yes"):
        shown = " ".join(runner.invoke(args=["import", kind, "--help"]).output.split())
        assert "--update The file is authoritative" in shown
        if kind == "yes":  # playlists numbered by line: no snapshots
            assert "Rows it does not name are kept. Without it" in shown
            continue
        assert "Rows it does not name are kept (see --snapshot)" in shown
        assert "--snapshot The file holds ALL of its source's playlists" in shown
        assert "--max-delete PCT Refuse a --snapshot import (write nothing)" in shown
