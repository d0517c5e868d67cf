"""The API recovers from operator accidents with the model store without a promotion.

Found by ``bench/swap_under_load.py``: a worker started (restarted) while the current bundle
was missing answered 503 on every request until the next promotion, even after the bundle was
put back.
"""

from __future__ import annotations


def test_a_bundle_put_back_is_served_without_a_promotion(build_app):
    app = build_app()
    store_dir = app.config["MODEL_DIR"]
    from recsys.index.store import ModelStore

    store = ModelStore(store_dir)
    bundle, aside = store.versions_dir / "v1", store.versions_dir / ".aside-v1"
    bundle.rename(aside)  # deleted (moved) by an operator while the worker starts
    api = app.test_client()
    for _ in range(3):
        resp = api.get("/api/ready")
        assert resp.status_code == 503 and resp.headers["Retry-After"]
        assert "could not be loaded" in resp.get_json()["error"]["message"]
        assert api.get("/api/songs/1000/similar").status_code == 503
    aside.rename(bundle)  # put back
    resp = api.get("/api/ready")
    assert resp.status_code == 200 and resp.get_json()["model_version"] == "v1"
    similar = api.get("/api/songs/1000/similar?k=3")
    assert similar.status_code == 200 and similar.get_json()["model_version"] == "v1"


def _revalidate_until(api, url: str, tag: str, status: int):
    """Revalidate ``tag`` until the answer is ``status`` (the worker swaps in the background:
    meanwhile the old model answers, consistently); the last response."""
    import time

    deadline = time.monotonic() + 10
    while True:
        resp = api.get(url, headers={"If-None-Match": tag})
        if resp.status_code == status or time.monotonic() > deadline:
            return resp
        assert resp.status_code in (200, 304)
        if resp.status_code == 200:  # not yet swapped back: the other model, all of it
            version = resp.get_json()["model_version"]
            assert resp.headers["ETag"].startswith(f'W/"{version}')
        else:
            assert resp.headers["ETag"] == tag
        time.sleep(0.01)


def test_etags_follow_promotion_and_rollback(api_app):
    from recsys.index.store import ModelStore

    store = ModelStore(api_app.config["MODEL_DIR"])
    api = api_app.test_client()
    url = "/api/songs/1000/similar?k=5"
    first = api.get(url)
    old_tag = first.headers["ETag"]
    assert first.get_json()["model_version"] == "v1" and "v1" in old_tag
    assert api.get(url, headers={"If-None-Match": old_tag}).status_code == 304
    store.set_current("v2")
    after = _revalidate_until(api, url, old_tag, 200)
    assert after.status_code == 200  # the cached copy is another model's
    assert after.get_json()["model_version"] == "v2" and "v2" in after.headers["ETag"]
    store.set_current("v1")  # rolled back: the first copy is valid again
    back = _revalidate_until(api, url, old_tag, 304)
    assert back.status_code == 304 and back.headers["ETag"] == old_tag
