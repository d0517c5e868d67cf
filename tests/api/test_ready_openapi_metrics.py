"""Readiness and 503 before a model, OpenAPI coverage, Prometheus exposition."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST


def test_ready_names_version_and_song_count(api):
    body = api.get("/api/ready").get_json()
    assert body == {"status": "ready", "model_version": "v1", "songs": 100}


def test_probes_ignore_query_parameters_as_documented(api):
    """Monitors add cache busters (``?t=…``): probes answer as without them, while a data
    endpoint rejects the same parameter (a client bug there)."""
    for path in ("/api/health", "/api/ready", "/api/openapi.json"):
        plain, busted = api.get(path), api.get(f"{path}?t=1732700000&t=2")
        assert busted.status_code == plain.status_code == 200
        assert busted.get_json() == plain.get_json()
        assert "ignored" in api.get("/api/openapi.json").get_json()["paths"][path]["get"][
            "description"]
    assert api.get(f"/api/songs/{FIRST}?t=1").status_code == 400


def test_503_json_before_any_model(build_app):
    client = build_app(current=None).test_client()
    for resp in (client.get("/api/ready"), client.get(f"/api/songs/{FIRST}/similar"),
                 client.post("/api/recommendations", json={"song_ids": [FIRST]})):
        assert resp.status_code == 503 and resp.is_json and resp.headers["Retry-After"] == "5"
        assert "no model" in resp.get_json()["error"]["message"]
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/songs?q=song").status_code == 200


def test_model_is_loaded_lazily_and_once(api_app):
    from recsys.api.deps import holder

    assert holder(api_app).model is None  # nothing at app creation
    client = api_app.test_client()
    client.get("/api/ready")
    first = holder(api_app).model
    client.get(f"/api/songs/{FIRST}/similar")
    assert first is not None and holder(api_app).model is first


def test_corrupt_current_version_is_503_with_reason(build_app, tmp_path):
    app = build_app(current=None)
    (tmp_path / "var" / "models" / "versions" / "v2" / "in_vectors.npy").write_bytes(b"bad")
    from recsys.index.store import ModelStore

    ModelStore(app.config["MODEL_DIR"]).set_current("v2")
    resp = app.test_client().get("/api/ready")
    assert resp.status_code == 503 and "checksum" in resp.get_json()["error"]["message"]


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_openapi_covers_every_api_route(api_app):
    doc = api_app.test_client().get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    routes = {}
    for rule in api_app.url_map.iter_rules():
        if rule.rule.startswith("/api"):
            routes.setdefault(_openapi_path(rule.rule), set()).update(
                m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    assert set(routes) == set(doc["paths"])
    for path, methods in routes.items():
        assert methods == set(doc["paths"][path]), path


def test_openapi_refs_resolve_and_errors_are_described(api_app):
    doc = api_app.test_client().get("/api/openapi.json").get_json()
    text = str(doc)
    for ref in set(re.findall(r"#/components/(\w+)/(\w+)", text)):
        assert ref[1] in doc["components"][ref[0]], ref
    similar = doc["paths"]["/api/songs/{song_id}/similar"]["get"]
    names = {p["name"] for p in similar["parameters"]}
    assert names == {"song_id", "k", "mode", "max_per_artist", "exclude", "explain",
                     "If-None-Match"}
    assert {"400", "404", "503"} <= set(similar["responses"])
    assert "Error" in doc["components"]["schemas"]


def _samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def test_metrics_exposition(api):
    api.get(f"/api/songs/{FIRST}/similar")
    api.get(f"/api/songs/{FIRST}/similar")
    api.get("/api/songs/abc/similar")
    resp = api.get("/metrics")
    assert resp.status_code == 200 and resp.mimetype == "text/plain"
    samples = _samples(resp.get_data(as_text=True))
    counts = {(s.labels["endpoint"], s.labels["status"]): s.value
              for s in samples["recsys_http_requests_total"]}
    assert counts[("/api/songs/<song_id>/similar", "200")] == 2
    assert counts[("/api/songs/<song_id>/similar", "400")] == 1
    hist = [s for s in samples["recsys_http_request_duration_seconds_count"]
            if s.labels["endpoint"] == "/api/songs/<song_id>/similar"]
    assert hist[0].value == 3
    assert [(s.labels, s.value) for s in samples["recsys_model_info"]] == [
        ({"version": "v1"}, 1.0)]
    assert samples["recsys_model_songs"][0].value == 100


def test_answers_are_counted_by_what_answered(api):
    """The share of fallback answers is the cold-start rate operators watch between models."""
    api.get(f"/api/songs/{FIRST}/similar")  # the model, pre-serialised path
    api.get(f"/api/songs/{FIRST}/similar?explain=true")  # the model, dict path
    api.get(f"/api/songs/{FIRST}/similar?mode=next")
    api.get(f"/api/songs/{COLD_COOC}/similar")
    api.get(f"/api/songs/{COLD_ARTIST}/similar")
    api.post("/api/recommendations", json={"song_ids": [COLD_ALONE]})
    api.post("/api/recommendations", json={"song_ids": [FIRST, FIRST + 1]})
    api.get(f"/api/songs/{FIRST}/similar?k=0")  # a 400 is no answer
    from recsys.api.deps import holder

    every_other = ",".join(str(i) for i in holder(api.application).model.song_ids.tolist()
                           if i != FIRST)
    assert api.get(f"/api/songs/{FIRST}/similar?exclude={every_other}").get_json()["items"] == []
    resp = api.get("/metrics").get_data(as_text=True)
    counts = {(s.labels["mode"], s.labels["answered_by"]): s.value
              for s in _samples(resp)["recsys_recommendation_answers_total"]}
    assert counts == {("similar", "model"): 2, ("next", "model"): 2,
                      ("similar", "cooccurrence"): 1, ("similar", "same_artist"): 1,
                      ("next", "popularity"): 1, ("similar", "nothing"): 1}


def test_metrics_follow_a_new_version(api, model_store):
    api.get(f"/api/songs/{FIRST}/similar")
    model_store.set_current("v2")
    api.get(f"/api/songs/{FIRST}/similar")  # poll_seconds=0 in tests: loads v2 in background
    from recsys.api.deps import holder

    h = holder(api.application)
    for _ in range(200):
        if h.model.version == "v2":
            break
        import time

        time.sleep(0.01)
    samples = _samples(api.get("/metrics").get_data(as_text=True))
    info = {s.labels["version"]: s.value for s in samples["recsys_model_info"]}
    assert info == {"v2": 1.0}  # the old version is no series at 0


def test_unmatched_urls_share_one_label(api):
    for n in range(5):
        api.get(f"/nope/{n}")
    samples = _samples(api.get("/metrics").get_data(as_text=True))
    endpoints = {s.labels["endpoint"] for s in samples["recsys_http_requests_total"]}
    assert "<unmatched>" in endpoints and not any(e.startswith("/nope") for e in endpoints)


def test_unknown_methods_share_one_label(api):
    for n in range(5):
        api.open("/api/health", method=f"FOO{n}")
    samples = _samples(api.get("/metrics").get_data(as_text=True))
    methods = {s.labels["method"] for s in samples["recsys_http_requests_total"]}
    assert "other" in methods and not any(m.startswith("FOO") for m in methods)
