"""``/api/songs`` search and lookup, and ``/api/songs/<id>``, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST


@pytest.fixture
def songs_api(build_app, db_url):
    return build_app(db_url).test_client()


def test_search_is_case_insensitive_on_title_and_artist(songs_api):
    body = songs_api.get("/api/songs?q=sOnG 100").get_json()
    assert body["total"] == 10 and [s["id"] for s in body["items"]][:2] == [1000, 1001]
    by_artist = songs_api.get("/api/songs?q=artist 10-0").get_json()
    assert {s["id"] for s in by_artist["items"]} == {1000, 1001, 1002, 1003, 1004, COLD_ARTIST}
    assert songs_api.get("/api/songs?q=NEWCOMER").get_json()["items"][0]["id"] == COLD_COOC


def test_search_matches_percent_and_underscore_literally(songs_api):
    assert [s["id"] for s in songs_api.get("/api/songs?q=100%25").get_json()["items"]] == [
        COLD_ALONE]
    assert songs_api.get("/api/songs?q=_").get_json()["total"] == 0


def test_search_unicode(songs_api):
    body = songs_api.get("/api/songs?q=björk ünïcode").get_json()
    assert [s["id"] for s in body["items"]] == [COLD_ALONE]


def test_pagination_and_total(songs_api):
    first = songs_api.get("/api/songs?limit=7").get_json()
    second = songs_api.get("/api/songs?limit=7&offset=7").get_json()
    assert first["total"] == second["total"] == 103
    assert len(first["items"]) == 7 and first["limit"] == 7 and second["offset"] == 7
    assert first["items"][-1]["id"] < second["items"][0]["id"]
    assert songs_api.get("/api/songs").get_json()["limit"] == 20
    assert songs_api.get("/api/songs?offset=5000").get_json()["items"] == []


def test_lookup_by_source_and_external_id(songs_api):
    body = songs_api.get("/api/songs?source=other&external_id=x%25_y").get_json()
    assert body["total"] == 1 and body["items"][0]["id"] == COLD_ALONE
    assert songs_api.get("/api/songs?source=planted&external_id=x%25_y").get_json()[
        "total"] == 0
    assert songs_api.get("/api/songs?source=other").get_json()["total"] == 1


def test_song_detail_with_tags_and_model_flag(songs_api):
    body = songs_api.get(f"/api/songs/{FIRST}").get_json()
    assert body["tags"] == ["calm", "rock"]
    assert body["in_model"] is True and body["model_version"] == "v1"
    cold = songs_api.get(f"/api/songs/{COLD_COOC}").get_json()
    assert cold["in_model"] is False and cold["tags"] == []


@pytest.mark.parametrize("path", ["/api/songs/424242", "/api/songs/2147483648",
                                  "/api/songs/99999999999999999999999"])
def test_unknown_song_is_404(songs_api, path):
    resp = songs_api.get(path)
    assert resp.status_code == 404 and resp.is_json
    assert "unknown song" in resp.get_json()["error"]["message"]


def test_similar_on_both_databases_including_cold_start(songs_api):
    assert songs_api.get(f"/api/songs/{FIRST}/similar").status_code == 200
    body = songs_api.get(f"/api/songs/{COLD_COOC}/similar").get_json()
    assert body["fallback"] == "cooccurrence"


def test_song_detail_without_model(build_app):
    client = build_app(current=None).test_client()
    body = client.get(f"/api/songs/{FIRST}").get_json()
    assert body["in_model"] is None and body["model_version"] is None


def test_search_runs_natively_on_sqlite_for_any_needle(build_app):
    """One plain LIKE on ``search_key`` whatever the needle: no function call per row, and
    an engine without any registered function (the app registers none) finds the song."""
    from sqlalchemy import select
    from sqlalchemy.dialects import sqlite
    from sqlalchemy.orm import Session

    from recsys.api.queries import matches, search_songs
    from recsys.db.models import Song
    from recsys.db.session import make_engine

    for needle in ("bj", "bjö"):
        sql = str(select(Song.id).where(matches(needle)).compile(dialect=sqlite.dialect()))
        assert sql.endswith("WHERE (songs.search_key LIKE '%' || ? || '%' ESCAPE '/')"), sql
    app = build_app()  # SQLite
    engine = make_engine(app.config["DATABASE_URL"])
    with Session(engine) as session:
        for q in ("BJ", "bjÖ", "ünï", "CODE 100%", "bjork unicode"):
            assert [s["id"] for s in search_songs(session, q, None, None, 20, 0)[0]] == [
                COLD_ALONE], q
    engine.dispose()


#: Catalog rows with accents and letters NFKD keeps whole (added through the ORM, whose
#: column default computes their keys).
ACCENTED = {
    9101: ("Halo", "Beyoncé"),
    9102: ("Dr. Feelgood", "Mötley Crüe"),
    9103: ("Hoppípolla", "Sigur Rós"),
    9104: ("Eple", "Røyksopp"),
    9105: ("Straße der Lieder", "Die Ärzte"),
    9106: ("Don’t Stop Believin’", "Journey"),
    9107: ("群青日和", "東京事変"),
    9108: ("İstanbul", "Işık"),
}


def add_accented(app) -> None:
    from recsys.db.models import Song
    from recsys.db.session import make_engine, session_scope

    engine = make_engine(app.config["DATABASE_URL"])
    with session_scope(engine) as session:
        session.add_all(Song(id=i, source="intl", external_id=str(i), title=t, artist=a)
                        for i, (t, a) in ACCENTED.items())
    engine.dispose()


@pytest.fixture
def accented_api(build_app, db_url):
    app = build_app(db_url)
    add_accented(app)
    return app.test_client()


#: Searches typed with or without accents, in any case, and the songs they find.
ACCENT_SEARCHES = {
    "beyonce": [9101], "Beyonce": [9101], "BEYONCÉ": [9101], "beyoncé": [9101],
    "motley crue": [9102], "MÖTLEY": [9102], "sigur ros": [9103], "hoppipolla": [9103],
    "royksopp": [9104], "RØYKSOPP": [9104], "strasse": [9105], "STRASSE DER": [9105],
    "arzte": [9105], "don't stop": [9106], "Don’t": [9106], "東京": [9107], "群青": [9107],
    "istanbul": [9108], "ISIK": [9108], "  sigur   ros ": [9103],
}


def test_search_ignores_accents_and_case_both_ways(accented_api):
    found = {}
    for q in ACCENT_SEARCHES:
        body = accented_api.get("/api/songs", query_string={"q": q}).get_json()
        found[q] = [s["id"] for s in body["items"]]
        assert body["total"] == len(found[q])
    assert found == ACCENT_SEARCHES


def test_accented_search_keeps_title_or_artist_substring_semantics(accented_api):
    """A needle never spans the title and the artist; total, order and pagination hold."""
    assert accented_api.get("/api/songs?q=halo beyonce").get_json()["total"] == 0
    assert accented_api.get("/api/songs?q=feelgood motley").get_json()["total"] == 0
    both = accented_api.get("/api/songs?q=o&source=intl&limit=3").get_json()
    assert both["total"] == 5 and [s["id"] for s in both["items"]] == [9101, 9102, 9103]
    item = accented_api.get("/api/songs?q=beyonce").get_json()["items"][0]
    assert item == {"id": 9101, "source": "intl", "external_id": "9101", "title": "Halo",
                    "artist": "Beyoncé"}  # the stored text is untouched


def test_a_blank_search_filters_nothing(accented_api):
    everything = accented_api.get("/api/songs").get_json()["total"]
    assert accented_api.get("/api/songs?q=%20%20").get_json()["total"] == everything


def test_a_search_that_folds_to_nothing_matches_nothing(accented_api):
    """Only combining accents: something was asked for, and nothing matches it (it used to
    filter nothing and answer the whole catalog)."""
    for q in ("\u0301", " \u0301\u0308 "):
        assert accented_api.get("/api/songs", query_string={"q": q}).get_json()["total"] == 0
    assert accented_api.get("/api/songs?q=%20").get_json()["total"] > 0
