"""The embedding map: PCA projection, ``/admin/map.json`` and its per-version cache."""

from __future__ import annotations

import numpy as np

from recsys.admin.projection import MapCache, pca_2d
from tests.admin.conftest import FIRST, login, submit_form, wait_until


def test_pca_separates_planted_clusters():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 0.1, (50, 8)) + 3.0
    b = rng.normal(0, 0.1, (50, 8)) - 3.0
    coords, ratios = pca_2d(np.vstack([a, b]))
    assert coords.shape == (100, 2) and np.abs(coords).max() <= 1.0 + 1e-9
    assert ratios[0] > 0.9  # one axis carries the cluster split
    assert (np.sign(coords[:50, 0]) != np.sign(coords[50:, 0])).all()
    again, _ = pca_2d(np.vstack([a, b]))
    assert np.array_equal(coords, again)  # deterministic signs


def test_pca_degenerate_inputs():
    assert pca_2d(np.zeros((0, 4)))[0].shape == (0, 2)
    assert np.array_equal(pca_2d(np.ones((3, 4)))[0], np.zeros((3, 2)))
    assert pca_2d(np.arange(5.0)[:, None])[0].shape == (5, 2)  # one dimension


def test_map_json_has_points_coordinates_and_labels(admin):
    resp = admin.get("/admin/map.json")
    assert resp.status_code == 200
    body = resp.get_json()
    n = body["n_points"]
    assert body["version"] == "v1" and n == body["n_songs"] == 100  # planted: 5 x 20 songs
    for key in ("ids", "x", "y", "title", "artist", "count", "tag"):
        assert len(body[key]) == n, key
    assert all(-1 <= v <= 1 for v in body["x"] + body["y"])
    assert max(map(abs, body["x"] + body["y"])) == 1.0
    assert body["count"] == sorted(body["count"], reverse=True)  # most played first
    i = body["ids"].index(FIRST)
    assert body["title"][i] == "Song 1000" and body["artist"][i] == "Artist 10-0"
    assert body["tag"][i] == "calm"  # tie between its tags: alphabetical
    assert sum(1 for t in body["tag"] if t) == 1


def test_map_is_cached_per_version_and_capped(build_app):
    app = build_app(ADMIN_PASSWORD="pw", ADMIN_LOGIN_DELAY=0, ADMIN_MAP_POINTS=30)
    client = app.test_client()
    login(client, password="pw")
    first = client.get("/admin/map.json").get_json()
    assert first["n_points"] == 30 and first["version"] == "v1"
    cache: MapCache = app.extensions["recsys.admin.map"]
    assert client.get("/admin/map.json").get_json() == first and cache.computed == 1
    submit_form(client, "/admin/models/v2/promote")  # loads v2 in the background
    wait_until(lambda: client.get("/admin/map.json").get_json()["version"] == "v2")
    second = client.get("/admin/map.json").get_json()
    assert second["version"] == "v2" and cache.computed == 2


def test_map_page_links_its_data(admin):
    html = admin.get("/admin/map").get_data(as_text=True)
    assert 'data-src="/admin/map.json"' in html and "<canvas" in html
    assert 'src="/admin/static/map.js"' in html
    assert admin.get("/admin/static/map.js").status_code == 200


def test_map_json_says_which_songs_are_hidden_now(admin, admin_app):
    from recsys.api import deps

    assert admin.get("/admin/map.json").get_json()["hidden"] == []
    with admin_app.app_context():
        model = deps.current_model()
    model.set_hidden([FIRST, 424242])  # as the watcher does when songs.available changes
    body = admin.get("/admin/map.json").get_json()
    assert body["hidden"] == [FIRST]  # a point of the map; the cached map itself is unchanged
