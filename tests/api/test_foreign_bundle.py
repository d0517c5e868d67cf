"""A server refuses a bundle trained from another database (its song ids are another
catalog's): a second database's server started on the first one's model store, the store
binding (migration 0009) stops only writes, so the server must check what it loads."""

from __future__ import annotations

from tests.jobs.test_store_binding import QUICK, _cli, _database, _fresh_url


def test_a_server_refuses_another_databases_model(make_app, sqlite_url, tmp_path):
    first = _database(make_app, sqlite_url, 4, tmp_path)
    _cli(first, "train", *QUICK, "--promote")
    own = first.test_client().get("/api/songs/1/similar?k=3")
    assert own.status_code == 200, own.get_json()

    # same var dir, so the same store and its current model; another catalog
    second = _database(make_app, _fresh_url(tmp_path, "second.db"), 9, tmp_path)
    resp = second.test_client().get("/api/songs/1/similar?k=3")
    assert resp.status_code == 503
    message = resp.get_json()["error"]["message"]
    assert "trained from another database" in message
    assert "model store of its own" in message
    assert str(tmp_path) not in message  # no server paths in answers
    ready = second.test_client().get("/api/ready")
    assert ready.status_code == 503
    assert "another database" in ready.get_json()["error"]["message"]


def test_a_bundle_without_an_installation_id_is_served(make_app, sqlite_url, tmp_path):
    """Bundles of older code name no installation: served as before."""
    import json

    from recsys.index.store import ModelStore

    app = _database(make_app, sqlite_url, 4, tmp_path)
    _cli(app, "train", *QUICK, "--promote")
    store = ModelStore(app.config["MODEL_DIR"])
    manifest = store.path(store.current_version()) / "manifest.json"
    doc = json.loads(manifest.read_text())
    assert doc.pop("installation_id")  # what this code writes
    manifest.write_text(json.dumps(doc))
    resp = make_app(sqlite_url).test_client().get("/api/songs/1/similar?k=3")
    assert resp.status_code == 200, resp.get_json()
