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


def test_an_ascii_needle_needs_no_python_function_per_row_on_sqlite(build_app):
    from sqlalchemy.orm import Session

    from recsys.api.queries import contains_ci
    from recsys.db.models import Song
    from recsys.extensions import db

    app = build_app()  # SQLite
    with app.app_context():
        session: Session = db.session
        fast = str(contains_ci(session, Song.title, "bj").compile())
        slow = str(contains_ci(session, Song.title, "bjö").compile())
    assert "recsys_lower" not in fast and "recsys_lower" in slow
    client = app.test_client()  # both paths find the same song, whatever its case
    for q in ("BJ", "bjÖ", "ünï", "CODE 100%25"):
        assert [s["id"] for s in client.get(f"/api/songs?q={q}").get_json()["items"]] == [
            COLD_ALONE], q
