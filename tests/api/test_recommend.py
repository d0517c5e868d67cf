"""``/similar`` and ``/recommendations``: shapes, modes, filters, explain, cold start."""

from __future__ import annotations

import pytest

from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST

ITEM_SONG_KEYS = {"id", "source", "external_id", "title", "artist"}


def test_similar_shape(api):
    body = api.get(f"/api/songs/{FIRST}/similar").get_json()
    assert set(body) == {"song", "model_version", "mode", "items", "fallback"}
    assert body["song"]["id"] == FIRST and body["model_version"] == "v1"
    assert body["mode"] == "similar" and body["fallback"] is None
    assert len(body["items"]) == 10
    for item in body["items"]:
        assert set(item) == {"song", "score"} and set(item["song"]) == ITEM_SONG_KEYS
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    # planted structure: neighbours of a genre-0 song are genre-0 songs
    assert all(1000 <= i["song"]["id"] < 1020 for i in body["items"][:5])


def test_next_mode_finds_the_planted_successor(api):
    body = api.get(f"/api/songs/{FIRST}/similar?mode=next&k=3").get_json()
    assert body["mode"] == "next" and body["items"][0]["song"]["id"] == FIRST + 1


def test_k_exclude_and_max_per_artist(api):
    body = api.get(f"/api/songs/{FIRST}/similar?k=4&exclude=1001,1002").get_json()
    ids = [i["song"]["id"] for i in body["items"]]
    assert len(ids) == 4 and not {1001, 1002, FIRST} & set(ids)
    capped = api.get(f"/api/songs/{FIRST}/similar?k=8&max_per_artist=1").get_json()
    artists = [i["song"]["artist"] for i in capped["items"]]
    assert len(artists) == 8 and len(set(artists)) == 8


def test_explain_adds_why(api):
    body = api.get(f"/api/songs/{FIRST}/similar?k=3&explain=true").get_json()
    assert all({"playlists_with_seeds", "times_after_seeds"} <= set(i["why"])
               for i in body["items"])
    plain = api.get(f"/api/songs/{FIRST}/similar?k=3&explain=false").get_json()
    assert all("why" not in i for i in plain["items"])


@pytest.mark.parametrize(("song_id", "fallback"), [
    (COLD_COOC, "cooccurrence"), (COLD_ARTIST, "same_artist"), (COLD_ALONE, "popularity")])
def test_cold_start_through_the_api(api, song_id, fallback):
    body = api.get(f"/api/songs/{song_id}/similar?k=5&explain=true").get_json()
    assert body["fallback"] == fallback and body["song"]["id"] == song_id
    assert len(body["items"]) == 5
    assert song_id not in {i["song"]["id"] for i in body["items"]}
    assert body["items"][0]["why"]["via"] == fallback


def test_recommendations_from_several_seeds(api):
    seeds = [FIRST, FIRST + 1, FIRST + 2]
    body = api.post("/api/recommendations", json={
        "song_ids": seeds, "k": 5, "exclude": [FIRST + 3], "explain": True}).get_json()
    assert [s["id"] for s in body["seeds"]] == seeds and body["mode"] == "next"
    ids = [i["song"]["id"] for i in body["items"]]
    assert len(ids) == 5 and not set(ids) & {*seeds, FIRST + 3}
    assert all("why" in i for i in body["items"])


def test_recommendations_max_per_artist_and_similar_mode(api):
    body = api.post("/api/recommendations", json={
        "song_ids": [FIRST], "k": 6, "max_per_artist": 2, "mode": "similar"}).get_json()
    artists = [i["song"]["artist"] for i in body["items"]]
    assert body["mode"] == "similar" and max(artists.count(a) for a in artists) <= 2


def test_recommendations_mixing_known_and_cold_seeds(api):
    body = api.post("/api/recommendations", json={"song_ids": [COLD_ALONE, FIRST]}).get_json()
    assert body["fallback"] is None and len(body["items"]) == 10


def test_recommendations_only_cold_seeds(api):
    body = api.post("/api/recommendations", json={"song_ids": [COLD_COOC]}).get_json()
    assert body["fallback"] == "cooccurrence"


def test_unknown_seed_is_404_with_ids(api):
    resp = api.post("/api/recommendations", json={"song_ids": [FIRST, 777777]})
    assert resp.status_code == 404
    assert resp.get_json()["error"]["ids"] == [777777]


def test_known_song_answers_are_revalidated_by_model_version(api, model_store):
    url = f"/api/songs/{FIRST}/similar?k=5"
    first = api.get(url)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    assert etag == 'W/"v1"'
    again = api.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert api.get(url + "&k=0", headers={"If-None-Match": etag}).status_code == 400
    model_store.set_current("v2")  # a promotion: the cached answer is stale
    from recsys.api.deps import holder

    holder(api.application).refresh(wait=True)  # what the worker's watcher does
    fresh = api.get(url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] == 'W/"v2"'
    assert fresh.get_json()["model_version"] == "v2"


def test_fallback_answers_carry_no_etag(api):
    resp = api.get(f"/api/songs/{COLD_COOC}/similar")
    assert resp.status_code == 200 and "ETag" not in resp.headers
    assert resp.headers["Cache-Control"] == "no-cache"
