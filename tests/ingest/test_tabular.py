"""CSV and JSONL importers on the hand-written fixtures: content, idempotence, increments."""

from __future__ import annotations

from sqlalchemy import text

from recsys.ingest import import_csv, import_jsonl
from recsys.ingest.tabular import parse_csv, parse_jsonl
from tests.ingest.conftest import counts


def _playlists(engine, source):
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT p.external_id, p.name, s.external_id FROM playlist_items i "
            "JOIN playlists p ON p.id = i.playlist_id JOIN songs s ON s.id = i.song_id "
            "WHERE p.source = :s ORDER BY p.id, i.position"), {"s": source}).all()
    out: dict[str, tuple[str | None, list[str]]] = {}
    for pl, name, song in rows:
        out.setdefault(pl, (name, []))[1].append(song)
    return out


def test_csv_and_jsonl_parse_to_the_same_catalog(fixtures):
    a = parse_csv(fixtures / "playlists.csv", "x")
    b = parse_jsonl(fixtures / "playlists.jsonl", "x")
    assert a.songs == b.songs
    assert [(p.external_id, p.songs) for p in a.playlists] == [
        (p.external_id, p.songs) for p in b.playlists]
    assert a.songs["s4"].title == "Slow Coffee"  # empty fields on a repeated row inherit
    assert a.songs["s5"].title == "Café Mélodie"
    assert a.songs["s2"].title == "Engines, Again"
    assert a.songs["s1"].tags == ("rock", "driving")


def test_import_csv(engine, fixtures):
    result = import_csv(engine, fixtures / "playlists.csv", "mine", progress=False)
    assert (result.songs_added, result.playlists_added, result.items_added) == (6, 3, 7)
    assert _playlists(engine, "mine") == {
        "road-trip": ("Road trip", ["s1", "s2", "s3"]),
        "lazy-sunday": (None, ["s4", "s5", "s4"]),
        "just-one": (None, ["s6"]),
    }
    c = counts(engine)
    assert c["tags"] == 4 and c["song_tags"] == 8


def test_idempotent_and_incremental(engine, fixtures):
    import_csv(engine, fixtures / "playlists.csv", "mine", progress=False)
    before = counts(engine)
    again = import_csv(engine, fixtures / "playlists.csv", "mine", progress=False)
    assert (again.songs_added, again.playlists_added, again.items_added) == (0, 0, 0)
    assert counts(engine) == {**before, "import_runs": before["import_runs"] + 1}
    more = import_csv(engine, fixtures / "playlists_more.csv", "mine", progress=False)
    assert (more.songs_added, more.playlists_added, more.items_added) == (1, 2, 4)
    assert more.playlists_existing == 3
    assert _playlists(engine, "mine")["workout"] == ("Workout", ["s2", "s7"])
    # the same file as JSONL under the same source is also a no-op for those playlists
    same = import_jsonl(engine, fixtures / "playlists.jsonl", "mine", progress=False)
    assert same.playlists_added == 0 and same.songs_added == 0


def test_sources_are_separate_namespaces(engine, fixtures):
    import_csv(engine, fixtures / "playlists.csv", "one", progress=False)
    other = import_jsonl(engine, fixtures / "playlists.jsonl", "two", progress=False)
    assert other.songs_added == 6 and other.playlists_added == 3
    assert other.tags_added == 0  # tags are global by name
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT kind, source, items_added FROM import_runs "
                                 "ORDER BY id")).all()
    assert [tuple(r) for r in runs] == [("csv", "one", 7), ("jsonl", "two", 7)]


def test_jsonl_accepts_integer_ids(tmp_path, sqlite_url):
    from recsys.db.session import make_engine

    path = tmp_path / "ints.jsonl"
    path.write_text('{"playlist_id": 7, "position": 0, "song_id": 42, "title": "T", '
                    '"artist": "A", "tags": "x|y"}\n')
    engine = make_engine(sqlite_url)
    result = import_jsonl(engine, path, progress=False)
    assert result.source == "custom" and result.items_added == 1
    assert _playlists(engine, "custom") == {"7": (None, ["42"])}
    engine.dispose()


def test_cli_csv_and_jsonl(runner, fixtures, app_engine):
    result = runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv"),
                                 "--source", "a", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "3 playlists added" in result.output and "7 items" in result.output
    result = runner.invoke(args=["import", "jsonl", str(fixtures / "playlists.jsonl"),
                                 "--source", "a"])
    assert result.exit_code == 0 and "0 playlists added (3 already present)" in result.output
    assert counts(app_engine)["playlists"] == 3


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import sys

    from recsys.ingest.writer import make_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert make_progress(10, "x", True).disable
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    with make_progress(10, "x", True) as bar:
        assert not bar.disable
    assert make_progress(10, "x", False).disable


def test_cli_on_a_database_without_schema(make_app, tmp_path, fixtures):
    runner = make_app(f"sqlite:///{tmp_path / 'empty.db'}").test_cli_runner()
    result = runner.invoke(args=["import", "csv", str(fixtures / "playlists.csv")])
    assert result.exit_code == 1 and "run `python -m recsys db upgrade` first" in result.output
