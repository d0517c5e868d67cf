"""Table of bad inputs: every one is a JSON 4xx with a message, never a 5xx."""

from __future__ import annotations

import io
import json

import pytest

from tests.api.conftest import FIRST

S = f"/api/songs/{FIRST}/similar"
BAD_GET = [
    (f"{S}?k=0", 400), (f"{S}?k=-1", 400), (f"{S}?k=501", 400), (f"{S}?k=abc", 400),
    (f"{S}?k=1.5", 400), (f"{S}?k=1e3", 400), (f"{S}?k=" + "9" * 40, 400), (f"{S}?k=", 400),
    (f"{S}?k=true", 400), (f"{S}?k=%00", 400), (f"{S}?k=%E2%91%A0", 400),
    (f"{S}?mode=foo", 400), (f"{S}?mode=", 400), (f"{S}?mode=SIMILAR", 400),
    (f"{S}?max_per_artist=0", 400), (f"{S}?max_per_artist=-3", 400),
    (f"{S}?max_per_artist=x", 400), (f"{S}?exclude=a,b", 400), (f"{S}?exclude=1,,2", 400),
    (f"{S}?exclude=1.5", 400), (f"{S}?exclude=-1", 400), (f"{S}?exclude=1;2", 400),
    (f"{S}?exclude=" + ",".join(str(i) for i in range(1, 1003)), 400),
    (f"{S}?explain=maybe", 400), (f"{S}?foo=1", 400),
    ("/api/songs/abc/similar", 400), ("/api/songs/-1/similar", 400),
    ("/api/songs/0/similar", 400), ("/api/songs/1.5/similar", 400),
    ("/api/songs/%F0%9F%8E%B5/similar", 400), ("/api/songs/" + "9" * 40 + "/similar", 400),
    ("/api/songs/99999999999/similar", 404), ("/api/songs/424242/similar", 404),
    ("/api/songs/abc", 400), ("/api/songs/-5", 400), ("/api/songs/%00", 400),
    ("/api/songs?limit=0", 400), ("/api/songs?limit=101", 400), ("/api/songs?limit=x", 400),
    ("/api/songs?offset=-1", 400), ("/api/songs?offset=" + "9" * 30, 400),
    ("/api/songs?q=" + "x" * 201, 400), ("/api/songs?q=a%00b", 400),
]


@pytest.mark.parametrize(("url", "status"), BAD_GET)
def test_bad_query_strings(shared_api, url, status):
    resp = shared_api.get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json and resp.get_json()["error"]["message"]


def _post(client, data, content_type="application/json"):
    return client.post("/api/recommendations", data=data, content_type=content_type)


BAD_BODIES = [
    (None, 400), ("", 400), ("{", 400), ("[1, 2]", 400), ('"text"', 400), ("null", 400),
    ("42", 400), ("[" * 100_000 + "]" * 100_000, 400), ("{\"song_ids\": [1]} trailing", 400),
    ('{"song_ids": NaN}', 400), ('{"song_ids": [1e400]}', 400),
    ('{"song_ids": [' + "9" * 5000 + "]}", 400),
]
BAD_FIELDS = [
    ({}, 400), ({"song_ids": []}, 400), ({"song_ids": "1,2"}, 400), ({"song_ids": 1000}, 400),
    ({"song_ids": [1.5]}, 400), ({"song_ids": [True]}, 400), ({"song_ids": ["1000"]}, 400),
    ({"song_ids": [-1]}, 400), ({"song_ids": [0]}, 400), ({"song_ids": [[1000]]}, 400),
    ({"song_ids": [{"id": 1000}]}, 400), ({"song_ids": [None]}, 400),
    ({"song_ids": list(range(1000, 1101))}, 400), ({"song_ids": {"a": 1}}, 400),
    ({"song_ids": [FIRST], "k": "10"}, 400), ({"song_ids": [FIRST], "k": 10.5}, 400),
    ({"song_ids": [FIRST], "k": 0}, 400), ({"song_ids": [FIRST], "k": 501}, 400),
    ({"song_ids": [FIRST], "k": True}, 400), ({"song_ids": [FIRST], "k": 10**30}, 400),
    ({"song_ids": [FIRST], "k": [10]}, 400), ({"song_ids": [FIRST], "exclude": "1,2"}, 400),
    ({"song_ids": [FIRST], "exclude": [1, "a"]}, 400),
    ({"song_ids": [FIRST], "exclude": {"a": 1}}, 400),
    ({"song_ids": [FIRST], "exclude": list(range(1, 1003))}, 400),
    ({"song_ids": [FIRST], "explain": "yes"}, 400), ({"song_ids": [FIRST], "explain": 1}, 400),
    ({"song_ids": [FIRST], "mode": "x"}, 400), ({"song_ids": [FIRST], "mode": 5}, 400),
    ({"song_ids": [FIRST], "max_per_artist": 0}, 400),
    ({"song_ids": [FIRST], "max_per_artist": "2"}, 400),
    ({"song_ids": [FIRST], "unknown": 1}, 400), ({"song_ids": [FIRST], "ünï": "☃"}, 400),
    ({"song_ids": [10**40]}, 400), ({"song_ids": [10**20]}, 404),
    ({"song_ids": [float(2**60)]}, 400), ({"song_ids": [FIRST], "k": 1e400}, 400),
    ({"song_ids": [FIRST, 424242]}, 404),
]


@pytest.mark.parametrize(("data", "status"), BAD_BODIES)
def test_bad_json_bodies(shared_api, data, status):
    resp = _post(shared_api, data)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json and resp.get_json()["error"]["message"]


@pytest.mark.parametrize(("body", "status"), BAD_FIELDS)
def test_bad_fields(shared_api, body, status):
    resp = _post(shared_api, json.dumps(body))
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.is_json and resp.get_json()["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", ""])
def test_wrong_content_type_is_415(shared_api, content_type):
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST]}), content_type)
    assert resp.status_code == 415 and resp.is_json


def test_huge_body_is_413(shared_api):
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST], "exclude": [1] * 200_000}))
    assert resp.status_code == 413 and resp.is_json


def test_wrong_methods_are_json_405(shared_api):
    assert shared_api.get("/api/recommendations").status_code == 405
    assert shared_api.post(S).status_code == 405
    assert shared_api.delete("/api/songs/1000").get_json()["error"]["status"] == 405


@pytest.mark.parametrize("field", ["song_ids", "k", "exclude", "explain", "mode"])
def test_null_typed_fields_are_400(shared_api, field):
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST], field: None}))
    assert resp.status_code == 400
    assert resp.get_json()["error"]["message"] == (
        f"{field} must not be null (leave a field out for its default)")


def test_only_fields_the_openapi_document_declares_nullable_accept_null(shared_api):
    schema = shared_api.get("/api/openapi.json").get_json()[
        "components"]["schemas"]["RecommendationRequest"]
    nullable = {name for name, prop in schema["properties"].items()
                if "null" in (prop["type"] if isinstance(prop["type"], list) else [])}
    assert nullable == {"max_per_artist"}
    for field in schema["properties"]:
        resp = _post(shared_api, json.dumps({"song_ids": [FIRST], field: None}))
        assert (resp.status_code == 200) == (field in nullable), (field, resp.get_json())
    body = _post(shared_api, json.dumps({"song_ids": [FIRST], "max_per_artist": None,
                                         "k": 4})).get_json()
    assert len(body["items"]) == 4  # null: no cap, as documented


def test_absent_optional_fields_take_defaults(shared_api):
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST]}))
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 10
    assert resp.get_json()["mode"] == "next"


def test_integers_written_with_a_fraction_or_exponent_are_integers(shared_api):
    """JSON Schema (and so the OpenAPI document) calls 10.0 and 1e1 integers: so does the API."""
    plain = _post(shared_api, json.dumps({"song_ids": [FIRST], "k": 7, "exclude": [FIRST + 1]}))
    written = _post(shared_api, f'{{"song_ids": [{FIRST}.0], "k": 7e0, '
                                f'"exclude": [{FIRST + 1}.00]}}')
    assert plain.status_code == written.status_code == 200, written.get_json()
    assert written.get_json()["items"] == plain.get_json()["items"]
    assert len(written.get_json()["items"]) == 7
    big = _post(shared_api, json.dumps({"song_ids": [float(2**60)]}))
    assert big.status_code == 400 and "without a fraction" in big.get_json()["error"]["message"]


UNKNOWN_IDS = [999999, 2**31, 99999999999999999999, 10**30 - 1]


@pytest.mark.parametrize("sid", UNKNOWN_IDS)
@pytest.mark.parametrize("path", ["/api/songs/{}", "/api/songs/{}/similar",
                                  "/api/songs/{}/similar?mode=next&k=3"])
def test_every_unknown_song_id_is_the_same_404(shared_api, path, sid):
    resp = shared_api.get(path.format(sid))
    assert resp.status_code == 404
    assert resp.get_json() == {"error": {"status": 404, "message": f"unknown song id(s): {sid}",
                                         "ids": [sid]}}


@pytest.mark.parametrize("sid", UNKNOWN_IDS)
def test_unknown_seeds_are_the_same_404(shared_api, sid):
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST, sid, 424242]}))
    assert resp.status_code == 404
    assert resp.get_json() == {"error": {
        "status": 404, "message": f"unknown song id(s): {sid}, 424242", "ids": [sid, 424242]}}


@pytest.mark.parametrize("raw", ["abc", "0", "-1", "1.5", "1e3", "9" * 31, "10" + "0" * 29])
def test_what_cannot_be_a_song_id_is_400(shared_api, raw):
    for url in (f"/api/songs/{raw}", f"/api/songs/{raw}/similar"):
        resp = shared_api.get(url)
        assert resp.status_code == 400, url
        assert resp.get_json()["error"]["message"] == (
            "song id must be a positive integer of at most 30 digits")
    resp = _post(shared_api, json.dumps({"song_ids": [FIRST, 10**30]}))
    assert resp.status_code == 400 and "at most 30 digits" in resp.get_json()["error"]["message"]


def test_a_bad_parameter_is_400_before_the_id_is_looked_up(shared_api):
    # the same order for every unknown id: parameters first, then the look-up
    for sid in (999999, 99999999999999999999):
        assert shared_api.get(f"/api/songs/{sid}/similar?k=0").status_code == 400


def test_huge_exclude_ids_are_ignored(shared_api):
    resp = shared_api.get(f"{S}?k=3&exclude={10**20}")
    assert resp.status_code == 200 and len(resp.get_json()["items"]) == 3


def test_405_names_the_allowed_methods(shared_api):
    resp = shared_api.get("/api/recommendations")
    assert resp.status_code == 405 and resp.is_json
    assert set(resp.headers["Allow"].replace(" ", "").split(",")) >= {"POST", "OPTIONS"}
    assert "GET" in shared_api.delete(S).headers["Allow"]


@pytest.mark.parametrize(("url", "allowed"), [("/api/recommendations", "POST"), (S, "GET"),
                                              ("/api/health", "GET")])
def test_options_is_an_empty_204_with_the_allowed_methods(shared_api, url, allowed):
    resp = shared_api.options(url)
    assert resp.status_code == 204 and resp.get_data() == b""
    assert "Content-Type" not in resp.headers  # it was an empty text/html 200
    assert allowed in resp.headers["Allow"]


@pytest.mark.parametrize("url", [
    "/api/songs?limt=5", f"{S}?mode=next&mode=next", "/api/songs?q=a&q=b", f"{S}?k=3&k=4",
    f"/api/songs/{FIRST}?k=3"])
def test_unknown_or_repeated_query_parameters_are_400(shared_api, url):
    resp = shared_api.get(url)
    assert resp.status_code == 400 and resp.get_json()["error"]["message"]


def test_query_parameters_on_post_are_400(shared_api):
    resp = shared_api.post("/api/recommendations?k=2", json={"song_ids": [FIRST]})
    assert resp.status_code == 400 and "body" in resp.get_json()["error"]["message"]


def test_a_get_that_takes_no_parameters_says_so(shared_api):
    """A GET has no body to send them in (the hint used to say so)."""
    message = shared_api.get(f"/api/songs/{FIRST}?foo=1").get_json()["error"]["message"]
    assert message == "unknown query parameter(s): foo (this endpoint takes none)"


def test_chunked_body_over_the_limit_is_413(shared_api):
    body = json.dumps({"song_ids": [FIRST], "exclude": [1] * 200_000}).encode()
    resp = shared_api.post("/api/recommendations", input_stream=io.BytesIO(body),
                           content_type="application/json",
                           headers={"Transfer-Encoding": "chunked"},  # no Content-Length
                           environ_overrides={"wsgi.input_terminated": True,
                                              "CONTENT_LENGTH": ""})
    assert resp.status_code == 413 and resp.is_json


def test_unexpected_errors_are_json_500_without_details(api, monkeypatch):
    from recsys.recommend.service import RecommendationService

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(RecommendationService, "recommend", boom)
    resp = api.post("/api/recommendations", json={"song_ids": [FIRST]})
    assert resp.status_code == 500 and resp.is_json
    assert resp.get_json() == {"error": {"status": 500, "message": "internal server error"}}


def test_exclude_applies_to_fallback_answers(api):
    from tests.api.conftest import COLD_COOC

    first = [i["song"]["id"] for i in api.get(f"/api/songs/{COLD_COOC}/similar?k=3")
             .get_json()["items"]]
    body = api.get(f"/api/songs/{COLD_COOC}/similar?k=3&exclude={first[0]},{first[1]}").get_json()
    assert body["fallback"] and not {first[0], first[1]} & {i["song"]["id"] for i in body["items"]}


@pytest.mark.parametrize("body", [
    '{"source": "acme", "external_ids": ["\\ud800"]}',
    '{"source": "\\ud800", "external_ids": ["x"]}',
    '{"source": "acme", "external_ids": ["ok\\udfffok"]}',
    '{"song_ids": [' + str(FIRST) + '], "source": "acme", "exclude_external_ids": ["\\udc80"]}',
])
def test_lone_surrogates_are_400_not_500(shared_api, body):
    """A JSON escape can decode to a lone surrogate, which no database can store (the lookup
    used to fail with a UnicodeEncodeError, a 500)."""
    resp = _post(shared_api, body)
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert "must be valid Unicode text (a lone surrogate \\u" in resp.get_json()["error"][
        "message"]
