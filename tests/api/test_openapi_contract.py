"""The OpenAPI document is a contract: every documented operation, parameter, body field and
status is exercised, and each response must match what the document declares for its status
(body schema, content type, ETag / Retry-After / Cache-Control headers). Valid requests must be
valid by the document and invalid ones invalid by it, so a bound the server enforces but the
document does not state (or the reverse) fails here too."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft202012Validator

from recsys.api.openapi import spec
from tests.api.conftest import COLD_ALONE, COLD_ARTIST, COLD_COOC, FIRST
from tests.api.contract import METHODS
from tests.api.contract_client import ETAG_OF_SELF, C, run

SONGS, SONG, SIMILAR, RECS = ("/api/songs", "/api/songs/{song_id}",
                              "/api/songs/{song_id}/similar", "/api/recommendations")
BY_EXT = "/api/similar"


def _fallback(via: str):
    return lambda b: b["fallback"] == via and all(i["why"]["via"] for i in b["items"])


def _explained(b) -> bool:
    return bool(b["items"]) and all("playlists_with_seeds" in i["why"] for i in b["items"])


def _parts(b) -> bool:
    return all(abs(sum(i["why"]["score_parts"].values()) - i["score"]) < 1e-3
               for i in b["items"])


def _per_artist(cap: int):
    def ok(b) -> bool:
        artists = [i["song"]["artist"].casefold() for i in b["items"]]
        return bool(artists) and max(map(artists.count, artists)) <= cap
    return ok


def _without(*ids: int):
    return lambda b: bool(b["items"]) and not {i["song"]["id"] for i in b["items"]} & set(ids)


def _unknown_external(*names: str):
    return lambda b: b["error"]["external_ids"] == list(names) and "ids" not in b["error"]


EXCLUDED = (FIRST + 1, FIRST + 2)
EXT = f"source=planted&external_id={FIRST}"
PLANTED = {"source": "planted"}
CASES = [
    C(200, "get", "/api/health"), C(200, "get", "/api/openapi.json"),
    C(200, "get", "/api/ready"), C(503, "get", "/api/ready", app="no_model"),
    # /api/songs
    C(200, "get", SONGS), C(200, "get", SONGS, "q=SONG&limit=5&offset=3"),
    C(200, "get", SONGS, "source=planted&external_id=cold-cooc",
      check=lambda b: [s["id"] for s in b["items"]] == [COLD_COOC]),
    C(200, "get", SONGS, "q=%C3%BCn%C3%AFcode", check=lambda b: b["total"] == 1),
    C(200, "get", SONGS, "offset=100000", check=lambda b: b["items"] == []),
    C(400, "get", SONGS, "limit=0"), C(400, "get", SONGS, "offset=-1"),
    C(400, "get", SONGS, "limt=5"), C(400, "get", SONGS, "limit=5&limit=6"),
    C(400, "get", SONGS, "q=a%00b"), C(400, "get", SONGS, "limit=x"),
    C(400, "get", SONGS, "offset=" + "9" * 12), C(400, "get", SONGS, "source=" + "s" * 201),
    C(400, "get", SONGS, "external_id=" + "e" * 201), C(400, "get", SONGS, "limit=101"),
    C(503, "get", SONGS, "q=song", app="db_down"),
    # /api/songs/{song_id}
    C(200, "get", SONG, song_id=FIRST,
      check=lambda b: b["tags"] == ["calm", "rock"] and b["in_model"] is True),
    C(200, "get", SONG, song_id=COLD_ALONE, check=lambda b: b["in_model"] is False),
    C(200, "get", SONG, song_id=FIRST, app="no_model", check=lambda b: b["in_model"] is None),
    C(400, "get", SONG, song_id="abc"), C(400, "get", SONG, song_id=0),
    C(400, "get", SONG, "x=1", song_id=FIRST), C(404, "get", SONG, song_id=424242),
    C(404, "get", SONG, song_id=10**20), C(503, "get", SONG, song_id=FIRST, app="db_down"),
    # /api/songs/{song_id}/similar
    C(200, "get", SIMILAR, song_id=FIRST), C(200, "get", SIMILAR, "mode=similar&k=3",
                                               song_id=FIRST),
    C(200, "get", SIMILAR, "mode=similar&explain=true", song_id=FIRST, check=_explained),
    C(200, "get", SIMILAR, "mode=next&explain=true&k=7", song_id=FIRST,
      check=lambda b: _explained(b) and _parts(b)),
    C(200, "get", SIMILAR, f"mode=next&k=20&max_per_artist=1&exclude={EXCLUDED[0]},"
      f"{EXCLUDED[1]}&explain=false", song_id=FIRST,
      check=lambda b: _per_artist(1)(b) and not {i["song"]["id"] for i in b["items"]}
      & set(EXCLUDED)),
    C(200, "get", SIMILAR, "explain=true", song_id=COLD_COOC, check=_fallback("cooccurrence")),
    C(200, "get", SIMILAR, "mode=next&explain=true&max_per_artist=2", song_id=COLD_ARTIST,
      check=lambda b: _fallback("same_artist")(b) and _per_artist(2)(b)),
    C(200, "get", SIMILAR, "explain=true", song_id=COLD_ALONE, check=_fallback("popularity")),
    C(200, "get", SIMILAR, song_id=FIRST, headers={"If-None-Match": 'W/"v0"'}),
    C(304, "get", SIMILAR, "k=4", song_id=FIRST, headers={"If-None-Match": ETAG_OF_SELF}),
    C(400, "get", SIMILAR, "k=0", song_id=FIRST), C(400, "get", SIMILAR, "mode=x",
                                                      song_id=FIRST),
    C(400, "get", SIMILAR, "exclude=a,b", song_id=FIRST),
    C(400, "get", SIMILAR, "exclude=0", song_id=FIRST),
    C(400, "get", SIMILAR, "explain=maybe", song_id=FIRST),
    C(400, "get", SIMILAR, "max_per_artist=0", song_id=FIRST),
    C(400, "get", SIMILAR, "k=501", song_id=FIRST), C(400, "get", SIMILAR, song_id="9" * 31),
    C(400, "get", SIMILAR, "exclude=" + ",".join(map(str, range(1, 1002))), song_id=FIRST),
    C(400, "get", SIMILAR, "kk=3", song_id=FIRST), C(400, "get", SIMILAR, song_id="1.5"),
    C(404, "get", SIMILAR, song_id=424242),
    C(503, "get", SIMILAR, song_id=FIRST, app="no_model"),
    C(503, "get", SIMILAR, song_id=COLD_COOC, app="db_down"),
    # /api/recommendations
    C(200, "post", RECS, body={"song_ids": [FIRST, FIRST + 1]}),
    C(200, "post", RECS, body={"song_ids": [FIRST], "k": 5, "mode": "similar", "explain": True,
                               "exclude": list(EXCLUDED), "max_per_artist": 1},
      check=lambda b: _explained(b) and _per_artist(1)(b)),
    C(200, "post", RECS, body={"song_ids": [FIRST, FIRST + 3], "mode": "next", "explain": True},
      check=_parts),
    C(200, "post", RECS, body={"song_ids": [COLD_COOC], "explain": True, "max_per_artist": None},
      check=_fallback("cooccurrence")),
    C(400, "post", RECS, body={}), C(400, "post", RECS, body={"song_ids": []}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "k": None}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "k": "5"}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "mode": "x"}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "explain": "yes"}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "exclude": [0]}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "exclude": list(range(1, 1002))}),
    C(400, "post", RECS, body={"song_ids": list(range(FIRST, FIRST + 101))}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "other": 1}),
    C(400, "post", RECS, body=[FIRST]), C(400, "post", RECS, raw=b"{",
                                          content_type="application/json"),
    C(400, "post", RECS, "k=5", body={"song_ids": [FIRST]}),
    C(404, "post", RECS, body={"song_ids": [FIRST, 424242]}),
    C(413, "post", RECS, raw=b'{"song_ids": [' + b" " * 300_000 + b"1]}",
      content_type="application/json"),
    C(415, "post", RECS, raw=b'{"song_ids": [1000]}', content_type="text/plain"),
    C(503, "post", RECS, body={"song_ids": [FIRST]}, app="no_model"),
    C(503, "post", RECS, body={"song_ids": [COLD_COOC]}, app="db_down"),
    # /api/similar: a song by its source's id
    C(200, "get", BY_EXT, EXT, check=lambda b: b["song"]["id"] == FIRST),
    C(200, "get", BY_EXT, f"{EXT}&k=20&mode=next&max_per_artist=1&exclude={EXCLUDED[0]},"
      f"{EXCLUDED[1]}&explain=true", check=lambda b: _per_artist(1)(b) and _parts(b)
      and _without(*EXCLUDED)(b)),
    C(200, "get", BY_EXT, f"{EXT}&k=20&exclude_external_id={EXCLUDED[0]}"
      f"&exclude_external_id=%20{EXCLUDED[1]}&exclude_external_id=no%2Csuch",
      check=lambda b: b["song"]["id"] == FIRST and _without(*EXCLUDED)(b)),
    C(200, "get", BY_EXT, "source=planted&external_id=cold-cooc"
      f"&exclude_external_id={EXCLUDED[0]}", check=_without(EXCLUDED[0])),  # a fallback too
    C(400, "get", BY_EXT, f"{EXT}&exclude_external_id=%20"),
    C(200, "get", BY_EXT, f"source=%20planted&external_id=%20{FIRST}%20&explain=false",
      check=lambda b: b["song"]["id"] == FIRST),  # stripped, as imports store them
    C(200, "get", BY_EXT, "source=planted&external_id=cold-cooc&explain=true",
      check=_fallback("cooccurrence")),
    C(200, "get", BY_EXT, "source=other&external_id=x%25_y", check=lambda b: b["song"]["id"]
      == COLD_ALONE and b["fallback"] == "popularity"),
    C(200, "get", BY_EXT, EXT, app="db_down"),  # the model's songs need no database
    C(200, "get", BY_EXT, EXT, headers={"If-None-Match": 'W/"v0"'}),
    C(304, "get", BY_EXT, f"{EXT}&k=4", headers={"If-None-Match": ETAG_OF_SELF}),
    C(400, "get", BY_EXT, f"external_id={FIRST}"), C(400, "get", BY_EXT, "source=planted"),
    C(400, "get", BY_EXT, "source=planted&external_id="),
    C(400, "get", BY_EXT, "source=planted&external_id=%20%20"),
    C(400, "get", BY_EXT, "source=&external_id=1000"),
    C(400, "get", BY_EXT, "source=planted&external_id=" + "e" * 129),
    C(400, "get", BY_EXT, "source=" + "s" * 65 + "&external_id=1000"),
    C(400, "get", BY_EXT, "source=planted&external_id=a%00b"),
    C(400, "get", BY_EXT, f"{EXT}&external_id=1001"), C(400, "get", BY_EXT, f"{EXT}&k=0"),
    C(400, "get", BY_EXT, f"{EXT}&song_id={FIRST}"), C(400, "get", BY_EXT, f"{EXT}&mode=x"),
    C(404, "get", BY_EXT, "source=planted&external_id=no%2Fsuch",
      check=_unknown_external("no/such")),
    C(404, "get", BY_EXT, f"source=nowhere&external_id={FIRST}",
      check=_unknown_external(str(FIRST))),
    C(503, "get", BY_EXT, EXT, app="no_model"),
    C(503, "get", BY_EXT, "source=planted&external_id=cold-cooc", app="db_down"),
    C(500, "get", BY_EXT, EXT, app="broken"),
    # /api/recommendations by external ids
    C(200, "post", RECS, body={**PLANTED, "external_ids": [str(FIRST), f" {FIRST + 3} "],
                               "exclude_external_ids": [str(EXCLUDED[0]), "no-such"],
                               "exclude": [EXCLUDED[1]], "k": 20, "mode": "similar"},
      check=lambda b: [s["id"] for s in b["seeds"]] == [FIRST, FIRST + 3]
      and _without(*EXCLUDED)(b)),
    C(200, "post", RECS, body={"song_ids": [FIRST], **PLANTED, "k": 20,
                               "exclude_external_ids": [str(EXCLUDED[0])]},
      check=_without(EXCLUDED[0])),
    C(200, "post", RECS, body={**PLANTED, "external_ids": ["cold-cooc"], "explain": True},
      check=_fallback("cooccurrence")),
    C(200, "post", RECS, body={**PLANTED, "external_ids": [str(FIRST)]}, app="db_down"),
    C(400, "post", RECS, body={**PLANTED, "song_ids": [FIRST], "external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"song_ids": [FIRST], "exclude_external_ids": ["1"]}),
    C(400, "post", RECS, body={"song_ids": [FIRST], **PLANTED}), C(400, "post", RECS,
                                                                   body=PLANTED),
    C(400, "post", RECS, body={**PLANTED, "external_ids": []}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": [""]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": [" \t"]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": [FIRST]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": str(FIRST)}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": ["e" * 129]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": ["a\u0000b"]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": [None]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": [str(i) for i in range(101)]}),
    C(400, "post", RECS, body={**PLANTED, "external_ids": ["1"],
                               "exclude_external_ids": [str(i) for i in range(1001)]}),
    C(400, "post", RECS, body={"source": "", "external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"source": "s" * 65, "external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"source": 5, "external_ids": [str(FIRST)]}),
    C(400, "post", RECS, body={"source": None, "external_ids": [str(FIRST)]}),
    C(404, "post", RECS, body={**PLANTED, "external_ids": [str(FIRST), "no", "such", "no"]},
      check=_unknown_external("no", "such")),
    C(503, "post", RECS, body={**PLANTED, "external_ids": ["cold-cooc"]}, app="db_down"),
    # a bug anywhere is a JSON 500 without details, as every operation documents
    *(C(500, "get", path, app="broken") for path in ("/api/health", "/api/ready", SONGS,
                                                     "/api/openapi.json")),
    C(500, "get", SONG, song_id=FIRST, app="broken"),
    C(500, "get", SIMILAR, song_id=FIRST, app="broken"),
    C(500, "post", RECS, body={"song_ids": [FIRST]}, app="broken"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_case_matches_the_document(contract, clients, case):
    run(contract, clients[case.app], case)


def test_every_documented_status_is_exercised(contract):
    declared = {(p, m, code) for p, m in contract.operations()
                for code in contract.responses(p, m)}
    exercised = {(c.path, c.method, str(c.status)) for c in CASES}
    assert declared - exercised == set()
    assert exercised - declared == set()


def test_every_parameter_and_body_field_is_sent_in_a_valid_request(contract):
    for path, method in contract.operations():
        ok = [c for c in CASES if (c.path, c.method) == (path, method) and c.status < 400]
        sent = {("query", n) for c in ok for n in re.findall(r"(?:^|&)([^=&]+)=", c.query)}
        sent |= {("header", n) for c in ok for n in c.headers}
        sent |= {("path", n) for c in ok for n in c.values}
        assert set(contract.parameters(path, method)) - sent == set(), (path, method)
        fields = {n for c in ok if isinstance(c.body, dict) for n in c.body}
        assert contract.body_fields(path, method) - fields == set(), (path, method)


def _openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_routes_and_document_list_the_same_operations(clients, contract):
    app = clients["ok"].application
    routes = {(_openapi_path(rule.rule), m.lower()) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api")
              for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == contract.operations()
    assert contract.doc == spec()  # the served document is the module's


def test_document_is_well_formed(contract):
    doc = contract.doc
    assert doc["openapi"].startswith("3.1.")
    ids = [op["operationId"] for p, m in contract.operations()
           for op in [contract.operation(p, m)]]
    assert len(ids) == len(set(ids))
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name
    for path, item in doc["paths"].items():
        assert set(item) <= set(METHODS) | {"parameters", "summary", "description"}, path
        template = set(re.findall(r"{(\w+)}", path))
        for method in (m for m in item if m in METHODS):
            params = contract.parameters(path, method)
            assert {n for w, n in params if w == "path"} == template, (path, method)
            for response in contract.responses(path, method).values():
                assert response["description"]
