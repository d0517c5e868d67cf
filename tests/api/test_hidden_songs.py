"""Hidden songs (``songs.available`` false) are never recommended, in any mode or fallback;
they still work as seeds; hiding applies to a running server without a new model."""

from __future__ import annotations

import logging
import time

import pytest

from recsys.api.deps import holder
from recsys.cli_songs import songs_cmd
from recsys.index.build import build_bundle
from recsys.recommend import ModelHolder
from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST
from tests.recommend.conftest import songs_for


def _cli(app, *args):
    out = app.test_cli_runner().invoke(songs_cmd, [str(a) for a in args])
    assert out.exit_code == 0, out.output
    return out.output


def _ids(body) -> list[int]:
    return [item["song"]["id"] for item in body["items"]]


def _similar(client, sid, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    resp = client.get(f"/api/songs/{sid}/similar?{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def _answers(client, sid, k):
    """Every model-path answer for seed ``sid`` (one seed, several seeds, filters)."""
    out = []
    for mode in ("similar", "next"):
        for extra in ({}, {"max_per_artist": 1}, {"explain": "true"}, {"exclude": FIRST + 3}):
            out.append(_similar(client, sid, k=k, mode=mode, **extra))
        body = client.post("/api/recommendations", json={
            "song_ids": [sid, FIRST + 1], "k": k, "mode": mode}).get_json()
        out.append(body)
    return out


def test_hidden_songs_never_answer_and_unhide_restores(api_app):
    client = api_app.test_client()
    before = {mode: _similar(client, FIRST, k=10, mode=mode) for mode in ("similar", "next")}
    targets = sorted({_ids(before["similar"])[0], _ids(before["next"])[0],
                      _ids(before["next"])[3]})
    assert f"{len(targets)} song(s) hidden" in _cli(api_app, "hide", *targets)
    holder(api_app).check_hidden()  # what the server's watcher does every poll
    assert holder(api_app).model.version == "v1"  # the same model: no retraining
    n_songs = len(holder(api_app).model)
    for k in (10, 500):  # 500: every song the model knows
        for body in _answers(client, FIRST, k):
            assert not set(_ids(body)) & set(targets)
            assert len(body["items"]) == 10 or k == 500
    for mode in ("similar", "next"):  # every other song, hidden ones and the seed left out
        assert len(_similar(client, FIRST, k=500, mode=mode)["items"]) == (
            n_songs - 1 - len(targets))
    for target in targets:  # a hidden song still works as a seed
        body = _similar(client, target, k=10, mode="next")
        assert body["song"]["id"] == target and len(body["items"]) == 10
        assert not set(_ids(body)) & set(targets)
    assert client.get(f"/api/songs/{targets[0]}").get_json()["available"] is False
    assert f"{len(targets)} song(s) unhidden" in _cli(api_app, "unhide", *targets)
    holder(api_app).check_hidden()
    after = {mode: _similar(client, FIRST, k=10, mode=mode) for mode in ("similar", "next")}
    assert after == before


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
def test_fallbacks_never_return_hidden_songs(build_app, db_url):
    app = build_app(db_url)
    client = app.test_client()
    found = {}
    for seed, via in ((COLD_COOC, "cooccurrence"), (COLD_ARTIST, "same_artist"),
                      (COLD_ALONE, "popularity")):
        body = _similar(client, seed, k=10, explain="true")
        assert body["fallback"] == via
        found[seed] = _ids(body)
    # the best of each step, the seed of same_artist's artist and the most popular songs
    targets = sorted({found[COLD_COOC][0], found[COLD_COOC][1], FIRST, *found[COLD_ALONE][:3]})
    _cli(app, "hide", *targets)
    holder(app).check_hidden()
    for seed in (COLD_COOC, COLD_ARTIST, COLD_ALONE):
        for mode in ("similar", "next"):
            body = _similar(client, seed, k=500, mode=mode, explain="true")
            assert len(body["items"]) > 50 and not set(_ids(body)) & set(targets)
        body = client.post("/api/recommendations", json={"song_ids": [seed], "k": 500}).get_json()
        assert len(body["items"]) > 50 and not set(_ids(body)) & set(targets)
        assert len(_similar(client, seed, k=10)["items"]) == 10  # still k items
    assert _similar(client, COLD_COOC, k=10)["fallback"] == "cooccurrence"


def test_hide_applies_live_through_the_watcher(build_app):
    app = build_app(MODEL_POLL_SECONDS=0.05)
    client = app.test_client()
    served = holder(app)
    served.watch()
    try:
        target = _ids(_similar(client, FIRST, k=5))[0]
        model = served.model
        etag = client.get(f"/api/songs/{FIRST}/similar?k=5").headers["ETag"]
        assert etag == 'W/"v1"'
        _cli(app, "hide", target)
        started = time.monotonic()
        while target in _ids(_similar(client, FIRST, k=5)):
            assert time.monotonic() - started < 5, "the hidden set was not applied"
            time.sleep(0.01)
        assert served.model is model  # applied to the loaded model, no reload
        resp = client.get(f"/api/songs/{FIRST}/similar?k=5", headers={"If-None-Match": etag})
        assert resp.status_code == 200 and resp.headers["ETag"].startswith('W/"v1.')
        again = client.get(f"/api/songs/{FIRST}/similar?k=5",
                           headers={"If-None-Match": resp.headers["ETag"]})
        assert again.status_code == 304
        _cli(app, "unhide", target)
        while target not in _ids(_similar(client, FIRST, k=5)):
            assert time.monotonic() - started < 10, "the unhide was not applied"
            time.sleep(0.01)
    finally:
        served.stop(wait_s=2)


def test_database_down_keeps_the_last_known_set(model_store, caplog):
    state = {"ids": [FIRST + 1], "down": False}

    def source():
        if state["down"]:
            raise OSError("connection refused")
        return state["ids"]

    model_store.set_current("v1")
    served = ModelHolder(model_store, poll_seconds=0, hidden_source=source)
    model = served.get()
    assert served.check_hidden() and model.hidden.ids == {FIRST + 1}
    state["down"] = True
    with caplog.at_level(logging.WARNING, logger="recsys.recommend"):
        assert not served.check_hidden() and not served.check_hidden()
    assert model.hidden.ids == {FIRST + 1}  # the last known set stays
    assert caplog.text.count("reading the hidden songs failed") == 1  # once per outage
    state.update(down=False, ids=[FIRST + 2])
    assert served.check_hidden() and model.hidden.ids == {FIRST + 2}
    model_store.set_current("v2")  # a newly loaded model starts with the last set read
    served.refresh(wait=True)
    assert served.model.version == "v2" and served.model.hidden.ids == {FIRST + 2}


def test_the_bundle_records_hidden_songs(api_model, api_playlists, model_store, api_app):
    songs = songs_for(api_model.song_ids)
    songs[FIRST + 1]["available"] = False
    build_bundle(model_store, api_model, api_playlists, songs, backend="exact", version="v3")
    model_store.set_current("v3")
    model = holder(api_app).get()  # no read of the database's set: the bundle's applies
    assert model.version == "v3" and model.manifest["hidden_songs"] == 1
    assert model.hidden.ids == {FIRST + 1}
    client = api_app.test_client()
    for mode in ("similar", "next"):
        assert FIRST + 1 not in _ids(_similar(client, FIRST, k=500, mode=mode))
