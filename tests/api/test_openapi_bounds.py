"""Every bound the OpenAPI document states holds on the server, read from the document itself:
a value at a documented minimum, maximum, maxItems, maxLength or enum is answered, one past it
is a 400, each response checked against the document. Also the pagination of ``/api/songs``
and checks that the contract checker does catch what it is there to catch."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Response

from recsys.api.openapi import spec
from tests.api.conftest import FIRST, OFFSET
from tests.api.contract import Contract, _exploded
from tests.api.contract_client import NO_BODY, C, Case, run
from tests.ml.conftest import N_GENRES, SONGS_PER_GENRE

SONGS, SONG, SIMILAR, RECS = ("/api/songs", "/api/songs/{song_id}",
                              "/api/songs/{song_id}/similar", "/api/recommendations")
BY_EXT = "/api/similar"
#: a valid request of each operation that takes input, to which one bound at a time is applied
BASE = {(SONGS, "get"): C(200, "get", SONGS),
        (SONG, "get"): C(200, "get", SONG, song_id=FIRST),
        (SIMILAR, "get"): C(200, "get", SIMILAR, song_id=FIRST),
        (BY_EXT, "get"): C(200, "get", BY_EXT, f"source=planted&external_id={FIRST}"),
        (RECS, "post"): C(200, "post", RECS, body={"song_ids": [FIRST]})}
#: body fields that need other fields than BASE's: the request a bound is applied to
FIELD_BASE = {"external_ids": {"source": "planted"},
              "source": {"external_ids": [str(FIRST)]},
              "exclude_external_ids": {"song_ids": [FIRST], "source": "planted"}}
MODEL_SONGS = [OFFSET + g * 100 + j for g in range(N_GENRES) for j in range(SONGS_PER_GENRE)]
_EXTERNAL = {str(i) for i in MODEL_SONGS}  # the planted source's ids of the model's songs
#: names whose values must name a song (else 404; /api/songs only filters), and the values
#: that do
KNOWN = {"song_id": set(MODEL_SONGS), "song_ids": set(MODEL_SONGS), "external_id": _EXTERNAL,
         "external_ids": _EXTERNAL, "source": {"planted"}}


def _bounds(schema: dict[str, Any], name: str) -> list[tuple[Any, bool]]:
    """``(value, valid)`` pairs at and past each bound of ``schema``."""
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    out: list[tuple[Any, bool]] = [(v, True) for v in schema.get("enum", []) if v is not None]
    if "integer" in types:
        if "minimum" in schema:
            out += [(schema["minimum"], True), (schema["minimum"] - 1, False)]
        if "maximum" in schema:
            out += [(schema["maximum"], True), (schema["maximum"] + 1, False)]
    if "string" in types and "maxLength" in schema:
        out += [("a" * schema["maxLength"], True), ("a" * (schema["maxLength"] + 1), False)]
    if "array" in types:
        for key, delta, valid in (("maxItems", 0, True), ("maxItems", 1, False),
                                  ("minItems", -1, False)):
            if key in schema and schema[key] + delta >= 0:
                n = schema[key] + delta  # seeds: the model's songs (101: one past them)
                ids = [*MODEL_SONGS, max(MODEL_SONGS) + 1] if name in KNOWN else [
                    *range(1, n + 1)]
                if schema["items"].get("type") == "string":  # external ids
                    ids = [str(i) for i in ids]
                out.append((ids[:n], valid))
        out += [([v], ok) for v, ok in _bounds(schema["items"], name)]
    return out


def _status(path: str, name: str, value: Any, valid: bool) -> int:
    if not valid:
        return 400
    ids = value if isinstance(value, list) else [value]
    unknown = path != SONGS and name in KNOWN and any(i not in KNOWN[name] for i in ids)
    return 404 if unknown else 200


def _text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def bound_cases() -> list[Case]:
    contract = Contract(spec())
    cases = []
    for (path, method), base in BASE.items():
        for (where, name), param in contract.parameters(path, method).items():
            for value, valid in _bounds(contract.deref(param["schema"]), name):
                status = _status(path, name, value, valid)
                if where == "path":
                    cases.append(Case(status, method, path, {name: _text(value)}, base.query,
                                      base.body))
                elif where == "query":  # replacing the base's value of the parameter
                    sent = (f"{name}={_text(value)}" if not _exploded(param) else "&".join(
                        f"{name}={v}" for v in value) if isinstance(value, list) else
                        f"{name}={value}")  # name=a&name=b
                    query = "&".join(filter(None, [
                        *(p for p in base.query.split("&") if not p.startswith(f"{name}=")),
                        sent]))
                    cases.append(Case(status, method, path, base.values, query, base.body))
        if base.body is not NO_BODY:
            schema = contract.deref(contract.operation(path, method)["requestBody"]["content"]
                                    ["application/json"]["schema"])
            for name, prop in schema["properties"].items():
                for value, valid in _bounds(contract.deref(prop), name):
                    body = {**FIELD_BASE.get(name, base.body), name: value}
                    status = _status(path, name, value, valid)
                    cases.append(Case(status, method, path, base.values, base.query, body))
    return cases


CASES = bound_cases()


def test_bounds_cover_every_operation_that_takes_input():
    contract = Contract(spec())
    takes_input = {(p, m) for p, m in contract.operations()
                   if contract.parameters(p, m) or contract.body_fields(p, m)}
    assert takes_input == set(BASE)
    assert len(CASES) > 50


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c)[:120])
def test_documented_bounds_hold(contract, clients, case):
    run(contract, clients["ok"], case)


def test_songs_pages_walk_the_catalog(contract, clients):
    for query in ("limit=7", "q=song&limit=9"):
        seen, offset, total = [], 0, None
        while True:
            resp = run(contract, clients["ok"], C(200, "get", SONGS, f"{query}&offset={offset}"))
            page = resp.get_json()
            total = page["total"] if total is None else total
            assert page["total"] == total and page["offset"] == offset
            assert len(page["items"]) <= page["limit"]
            seen += [s["id"] for s in page["items"]]
            if not page["items"]:
                break
            offset += page["limit"]
        assert seen == sorted(set(seen)) and len(seen) == total > 20, query


def _resp(body: Any, status: int = 200, mimetype: str = "application/json",
          **headers: str) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(text, status=status, mimetype=mimetype, headers=headers)


def test_the_checker_catches_breaches(contract):
    health = {"status": "ok", "version": "1"}
    assert contract.response_errors("/api/health", "get", _resp(health)) == []
    breaches = [
        ("/api/health", _resp({**health, "extra": 1})),  # an undeclared field
        ("/api/health", _resp({"status": "ok"})),  # a required field missing
        ("/api/health", _resp(health, mimetype="text/html")),
        ("/api/health", _resp(health, status=418)),
        ("/api/ready", _resp({"error": {"status": 503, "message": "x"}}, 503)),  # Retry-After
        ("/api/ready", _resp(health, ETag='W/"v1"')),  # an undeclared ETag
        ("/api/songs/{song_id}/similar", _resp("", 304, **{"Cache-Control": "no-cache"})),
    ]
    for path, resp in breaches:
        assert contract.response_errors(path, "get", resp), (path, resp.get_data())
    assert contract.request_errors(SONGS, "get", {}, "limit=0", {}, None, None)
    assert contract.request_errors(SONGS, "get", {}, "limit=1&limit=2", {}, None, None)
    assert not contract.request_errors(SONGS, "get", {}, "limit=1", {}, None, None)
