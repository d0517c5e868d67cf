"""What an app developer meets when generating a client from the OpenAPI document (found with
openapi-python-client 0.29 and datamodel-code-generator 0.89; see each test) and calling the
API with it: the document must generate a typed model for every body, one enum per set of
values, named error types, and lists must go through as generated clients send them."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from recsys.api.openapi import REQUEST_LINE_BYTES, spec
from recsys.serving import gunicorn_options
from tests.api.conftest import FIRST

S = f"/api/songs/{FIRST}/similar"


def _validator(name: str) -> Draft202012Validator:
    registry = Registry().with_resource("urn:doc", Resource(spec(), DRAFT202012))
    return Draft202012Validator({"$ref": f"urn:doc#/components/schemas/{name}"},
                                registry=registry)


def _walk(node: Any):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_object_schemas_have_no_top_level_union():
    """openapi-python-client silently drops the model of an object schema whose top level is
    a ``oneOf``/``anyOf`` (``recommend(body: Any)``); wrapped in ``allOf`` it generates it."""
    for name, schema in spec()["components"]["schemas"].items():
        if "properties" in schema:
            assert not {"oneOf", "anyOf"} & set(schema), name


@pytest.mark.parametrize("body, valid", [
    ({"song_ids": [1]}, True), ({"source": "s", "external_ids": ["a"]}, True),
    ({"song_ids": [1], "source": "s", "exclude_external_ids": ["a"]}, True),
    ({}, False), ({"song_ids": [1], "source": "s", "external_ids": ["a"]}, False),
    ({"source": "s"}, False), ({"external_ids": ["a"]}, False)])
def test_recommendation_request_still_needs_exactly_one_seed_form(body, valid):
    assert _validator("RecommendationRequest").is_valid(body) is valid


def test_nullable_enums_are_one_named_enum_or_null():
    """``{"type": ["string", "null"], "enum": [null, …]}`` generated three identical enum
    classes per field (openapi-python-client) and a ``NoneType_None`` member
    (datamodel-codegen); ``anyOf: [{$ref}, {type: null}]`` gives ``FallbackStep | None``."""
    doc = spec()
    assert not [s for s in _walk(doc) if None in s.get("enum", [])]
    schemas = doc["components"]["schemas"]
    step = {"$ref": "#/components/schemas/FallbackStep"}
    for name in ("Similar", "Recommendations"):
        assert schemas[name]["properties"]["fallback"]["anyOf"] == [step, {"type": "null"}]
    assert schemas["Item"]["properties"]["why"]["properties"]["via"]["$ref"] == step["$ref"]
    check = Draft202012Validator(
        {"$ref": "urn:doc#/components/schemas/Similar/properties/fallback"},
        registry=Registry().with_resource("urn:doc", Resource(doc, DRAFT202012)))
    for value, ok in ((None, True), ("cooccurrence", True), ("popularity", True),
                      ("x", False), ("", False)):
        assert check.is_valid(value) is ok, value


def test_error_detail_is_a_named_schema():
    """An inline inner object is named ``ErrorError`` / ``Error1`` by the generators."""
    schemas = spec()["components"]["schemas"]
    assert schemas["Error"]["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorDetail"}
    assert _validator("Error").is_valid({"error": {"status": 404, "message": "m",
                                                   "external_ids": ["a"]}})
    assert not _validator("Error").is_valid({"error": {"status": 404}})


def _items(resp) -> list[int]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [i["song"]["id"] for i in resp.get_json()["items"]]


@pytest.mark.parametrize("path", [S, f"/api/similar?source=planted&external_id={FIRST}"])
def test_exclude_repeated_as_generated_clients_send_it(shared_api, path):
    """openapi-python-client ignores ``explode: false`` and passes the list to httpx, which
    repeats the parameter: ``exclude=1&exclude=2`` was a 400 "repeated query parameter"."""
    sep = "&" if "?" in path else "?"
    top = _items(shared_api.get(f"{path}{sep}k=5"))
    comma = _items(shared_api.get(f"{path}{sep}k=5&exclude={top[0]},{top[1]}"))
    repeated = shared_api.get(f"{path}{sep}k=5&exclude={top[0]}&exclude={top[1]}")
    assert _items(repeated) == comma and not {top[0], top[1]} & set(comma)
    mixed = shared_api.get(f"{path}{sep}k=5&exclude={top[0]}&exclude={top[1]},{top[2]}")
    assert not set(top[:3]) & set(_items(mixed))
    for etag in (repeated.headers["ETag"],):  # the same validator as the comma form
        assert shared_api.get(f"{path}{sep}k=5&exclude={top[0]},{top[1]}",
                              headers={"If-None-Match": etag}).status_code == 304


def test_repeated_exclude_is_capped_as_a_whole(shared_api):
    first = ",".join(map(str, range(1, 501)))
    second = ",".join(map(str, range(501, 1002)))
    resp = shared_api.get(f"{S}?exclude={first}&exclude={second}")
    assert resp.status_code == 400
    assert "at most 1000" in resp.get_json()["error"]["message"]


@pytest.mark.parametrize("query", ["k=3&k=4", "mode=next&mode=similar"])
def test_other_parameters_still_may_not_repeat(shared_api, query):
    resp = shared_api.get(f"{S}?{query}")
    assert resp.status_code == 400 and "repeated" in resp.get_json()["error"]["message"]


def test_exclude_is_documented_as_both_forms_and_the_request_line_limit(tmp_path):
    doc = spec()
    for path in ("/api/songs/{song_id}/similar", "/api/similar"):
        param = next(p for p in doc["paths"][path]["get"]["parameters"]
                     if p["name"] == "exclude")
        assert "exclude=3&exclude=7" in param["description"]
        assert f"{REQUEST_LINE_BYTES:,}" in param["description"]
        assert "/api/recommendations" in param["description"]
    assert gunicorn_options("127.0.0.1", 0, 1, 1, tmp_path)["limit_request_line"] \
        == REQUEST_LINE_BYTES


def test_unknown_external_ids_message_quotes_each_id(shared_api):
    """Ids holding ", " made "unknown external id(s) of source 'planted': no, such, x y"
    unreadable; ``external_ids`` lists them either way."""
    resp = shared_api.post("/api/recommendations", json={
        "source": "planted", "external_ids": [str(FIRST), "no, such", "x y", 'q"t']})
    assert resp.status_code == 404
    error = resp.get_json()["error"]
    assert error["external_ids"] == ["no, such", "x y", 'q"t']
    assert error["message"] == ("unknown external id(s) of source 'planted': "
                                '"no, such", "x y", "q\\"t"')


@pytest.mark.parametrize("source, hint", [("planted", False), ("Planted", True),
                                          ("nowhere", True)])
def test_unknown_external_ids_say_when_the_source_names_no_song(shared_api, source, hint):
    """``source=acm`` (a typo) answered "unknown external id(s) of source 'acm': …" only, as
    if the songs were missing."""
    for resp in (shared_api.get(f"/api/similar?source={source}&external_id=zz"),
                 shared_api.post("/api/recommendations",
                                 json={"source": source, "external_ids": ["zz"]})):
        assert resp.status_code == 404
        error = resp.get_json()["error"]
        assert error["external_ids"] == ["zz"]
        assert (f"no song has source '{source}'" in error["message"]) is hint
