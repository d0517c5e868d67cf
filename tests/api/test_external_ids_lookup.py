"""The external-id look-up behind ``/api/similar?source=…&external_id=…`` and the
recommendations by ``external_ids``: which requests touch the database, hidden songs, a
promotion's new look-up, large catalogs and cold-start songs (the answers themselves are in
``test_external_ids``)."""

from __future__ import annotations

import threading

import pytest

from recsys.api.deps import holder
from recsys.cli_songs import songs_cmd
from recsys.index.build import build_bundle
from recsys.recommend import service as service_mod
from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST
from tests.api.test_external_ids import (
    EXTRA,
    _add_extra_song,
    _by_external,
    _ext,
    _ids,
    _pair,
    _query,
    _recommend,
    _same,
    counting_queries,
)
from tests.recommend.conftest import songs_for


def _warm(app) -> None:
    """Load the model and let the installation id be read (a thread of its own) before
    queries are counted."""
    assert app.test_client().get("/api/ready").status_code == 200
    assert holder(app).installation.read(wait_s=10) is not None


def test_model_songs_resolve_without_the_database(api_app):
    client = api_app.test_client()
    _warm(api_app)
    with counting_queries(api_app) as statements:
        for mode in ("similar", "next"):
            assert client.get(f"/api/similar?source=planted&external_id={FIRST}&mode={mode}"
                              ).status_code == 200
            assert _recommend(client, mode=mode, **_by_external(
                [FIRST, FIRST + 1], [FIRST + 2, FIRST + 3])).status_code == 200
        assert _recommend(client, source="planted", external_ids=[str(FIRST)],
                          exclude_external_ids=["not-in-the-model"]).status_code == 200
    assert statements == []


@pytest.mark.parametrize("seed", [COLD_COOC, COLD_ARTIST, COLD_ALONE])
def test_a_cold_seed_costs_the_queries_its_catalog_id_costs(api_app, seed):
    """The one look-up by external id replaces the seed's metadata query."""
    client = api_app.test_client()
    source, external_id = _ext(seed)
    _warm(api_app)
    with counting_queries(api_app) as by_id:
        client.get(f"/api/songs/{seed}/similar?k=5")
    with counting_queries(api_app) as by_ext:
        client.get(f"/api/similar?{_query(source=source, external_id=external_id, k=5)}")
    assert len(by_ext) == len(by_id)
    assert sum("external_id IN" in s for s in by_ext) == 1


def _cli(app, *args):
    out = app.test_cli_runner().invoke(songs_cmd, [str(a) for a in args])
    assert out.exit_code == 0, out.output


def test_hidden_songs_are_seeds_but_never_answers(api_app):
    client = api_app.test_client()
    targets = [FIRST + 1, COLD_COOC]
    _cli(api_app, "hide", *targets)
    holder(api_app).check_hidden()
    body = _same(*_pair(client, FIRST + 1, k=30, mode="next"))  # a hidden seed
    assert not set(_ids(body)) & set(targets)
    by_ext = _recommend(client, source="planted", external_ids=[str(FIRST + 1), "cold-cooc"],
                        k=30)
    by_id = _recommend(client, song_ids=targets, k=30)
    assert by_ext.get_json() == by_id.get_json() and by_ext.status_code == 200
    assert not set(_ids(by_ext.get_json())) & set(targets)
    assert holder(api_app).model.has_external_ids


def test_a_promotion_rebuilds_the_look_up(api_app, model_store, api_model, api_playlists):
    """A new bundle's song metadata is what resolves: v3 re-keys the planted songs."""
    songs = songs_for(api_model.song_ids)
    for song in songs.values():
        song["external_id"] = f"v3-{song['external_id']}"
    build_bundle(model_store, api_model, api_playlists, songs, backend="exact", version="v3")
    client = api_app.test_client()
    assert client.get(f"/api/similar?source=planted&external_id={FIRST}").status_code == 200
    old = holder(api_app).model
    assert old.has_external_ids
    model_store.set_current("v3")
    holder(api_app).refresh(wait=True)  # what the worker's watcher does
    new = holder(api_app).model
    assert new.version == "v3" and new is not old
    assert new.has_external_ids  # built at the swap: the process uses the look-up
    assert new.external_ids().get("planted", [f"v3-{FIRST}", str(FIRST)]) == [FIRST, None]
    with counting_queries(api_app) as statements:
        resp = client.get(f"/api/similar?source=planted&external_id=v3-{FIRST}")
    assert resp.status_code == 200 and statements == []  # the database has no v3- ids
    assert resp.get_json()["model_version"] == "v3" and resp.headers["ETag"] == 'W/"v3"'
    # the database still names the song "1000": one query, then the model answers
    with counting_queries(api_app) as statements:
        again = client.get(f"/api/similar?source=planted&external_id={FIRST}")
    assert again.status_code == 200 and len(statements) == 1
    assert again.get_json()["items"] == resp.get_json()["items"]


def test_a_model_not_asked_by_external_id_builds_no_look_up(api_app, model_store):
    client = api_app.test_client()
    assert client.get(f"/api/songs/{FIRST}/similar").status_code == 200
    model_store.set_current("v2")
    holder(api_app).refresh(wait=True)
    assert not holder(api_app).model.has_external_ids


def test_the_look_up_is_built_once_under_concurrent_first_requests(api_app):
    model = holder(api_app).get()
    seen, start = [], threading.Barrier(8)

    def ask():
        start.wait()
        seen.append(model.external_ids())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(x) for x in seen}) == 1


@pytest.mark.parametrize("collide", [False, True])
def test_large_catalog_look_up(build_app, monkeypatch, collide):
    """Above DECODE_MAX_SONGS: hashes and rows instead of dicts; every hit is checked against
    the bundle's strings, so even colliding hashes answer the right songs."""
    monkeypatch.setattr("recsys.recommend.metadata.DECODE_MAX_SONGS", 0)
    if collide:
        from recsys.recommend import external

        monkeypatch.setattr(external, "hash", lambda key: 7, raising=False)
    app = build_app()
    client = app.test_client()
    model = holder(app).get()
    look_up = model.external_ids()
    assert look_up._by_source is None and look_up.nbytes() == 12 * len(model)
    ids = [int(i) for i in model.song_ids[:40]]
    assert look_up.get("planted", [str(i) for i in ids]) == ids
    assert look_up.get("planted", ["nope", "cold-cooc"]) == [None, None]
    assert look_up.get("other", [str(ids[0])]) == [None] and look_up.get("planted", []) == []
    _same(*_pair(client, FIRST + 3, mode="next", k=7))
    by_ext = _recommend(client, **_by_external([FIRST, COLD_COOC], [FIRST + 1], mode="next"))
    assert by_ext.get_json() == _recommend(client, song_ids=[FIRST, COLD_COOC],
                                           exclude=[FIRST + 1], mode="next").get_json()


def test_errors_of_the_service_name_the_source():
    exc = service_mod.UnknownExternalIdError("acme", ["a/b", "c, d"])
    assert str(exc) == "unknown external id(s) of source 'acme': 'a/b', 'c, d'"  # each quoted


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
def test_cold_start_resolves_through_the_database(build_app, db_url):
    app = build_app(db_url)
    _add_extra_song(app)
    client = app.test_client()
    for seed in (COLD_COOC, COLD_ARTIST, COLD_ALONE, EXTRA):
        for mode in ("similar", "next"):
            body = _same(*_pair(client, seed, mode=mode, k=6, explain="true"))
            assert body["fallback"] is not None and body["song"]["id"] == seed
    by_ext = _recommend(client, **_by_external([COLD_ARTIST, COLD_COOC], [EXTRA, FIRST]))
    by_id = _recommend(client, song_ids=[COLD_ARTIST, COLD_COOC], exclude=[EXTRA, FIRST])
    assert by_ext.status_code == 200 and by_ext.get_json() == by_id.get_json()
    resp = _recommend(client, source="planted", external_ids=["cold-cooc", "a\u00e9/x"])
    assert resp.get_json()["error"]["external_ids"] == ["a\u00e9/x"]
