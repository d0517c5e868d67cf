"""Every import path writes each new song's ``search_key`` (migration 0007), on both databases:
Yes.com, CSV, JSONL and the synthetic sample all go through the writer's bulk insert, which
bypasses the model's column default."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from recsys.api.queries import search_songs
from recsys.db.search_key import song_search_key
from recsys.ingest import import_csv, import_jsonl, import_yes
from recsys.ingest.sample import import_sample


def _stored(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT title, artist, search_key FROM songs ORDER BY id"))]


def _assert_keys(engine, n_songs: int) -> None:
    rows = _stored(engine)
    assert len(rows) == n_songs
    assert [key for _t, _a, key in rows] == [song_search_key(t, a) for t, a, _k in rows]


def _found(engine, q: str) -> list[str]:
    with Session(engine) as session:
        return [s["title"] for s in search_songs(session, q, None, None, 20, 0)[0]]


def test_yes_import_writes_the_keys(engine, yes_tiny):
    import_yes(engine, yes_tiny, "tiny", progress=False)
    _assert_keys(engine, 6)
    assert _found(engine, "ac/dc") == ["AC/DC Tribute"]


def test_csv_import_writes_the_keys(engine, fixtures):
    import_csv(engine, fixtures / "playlists.csv", progress=False)
    _assert_keys(engine, 6)


def test_jsonl_import_writes_the_keys(engine, fixtures):
    import_jsonl(engine, fixtures / "playlists.jsonl", progress=False)
    _assert_keys(engine, 6)
    assert _found(engine, "CAFE MELODIE") == ["Café Mélodie"]


def test_sample_import_writes_the_keys(engine):
    result = import_sample(engine, 30, seed=3, progress=False)
    _assert_keys(engine, result.songs_added)
    assert result.songs_added > 100


ACCENTED = [("Halo", "Beyoncé"), ("Dr. Feelgood", "Mötley Crüe"), ("Eple", "Røyksopp"),
            ("Straße", "Die Ärzte"), ("Hoppípolla", "Sigur Rós")]


def _write(path, kind: str, songs) -> None:
    rows = [{"playlist_id": "p", "position": n, "song_id": f"s{n}", "title": t, "artist": a}
            for n, (t, a) in enumerate(songs)]
    if kind == "csv":
        lines = ["playlist_id,position,song_id,title,artist"]
        lines += [",".join(str(r[k]) for k in ("playlist_id", "position", "song_id", "title",
                                                "artist")) for r in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_accented_songs_imported_are_found_without_accents(engine, tmp_path, kind):
    """A later import of the same source adds its new songs with their keys."""
    load = import_csv if kind == "csv" else import_jsonl
    path = tmp_path / f"songs.{kind}"
    _write(path, kind, ACCENTED[:3])
    load(engine, path, progress=False)
    assert _found(engine, "beyonce") == ["Halo"] and _found(engine, "MOTLEY CRUE") == [
        "Dr. Feelgood"]
    assert _found(engine, "royksopp") == ["Eple"] and _found(engine, "strasse") == []
    more = tmp_path / f"more.{kind}"
    _write(more, kind, ACCENTED)
    load(engine, more, progress=False)
    _assert_keys(engine, len(ACCENTED))
    assert _found(engine, "strasse") == ["Straße"] and _found(engine, "sigur ros") == [
        "Hoppípolla"]
