"""Hand-written OpenAPI 3.1 description of ``/api`` (served at ``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from recsys import __version__
from recsys.api.errors import RETRY_AFTER_S
from recsys.api.openapi_schemas import (
    EXTERNAL_404,
    EXTERNAL_ID,
    ID,
    MPA,
    SOURCE,
    TEXT,
    K,
    ref,
    schemas,
)
from recsys.api.params import (
    DEFAULT_LIMIT,
    ID_RULE,
    MAX_BODY_BYTES,
    MAX_EXCLUDE,
    MAX_LIMIT,
    MAX_OFFSET,
)
from recsys.recommend import MODES


def _json(schema: dict[str, Any], description: str,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    return {**out, "headers": headers} if headers else out


def _etag(required: bool) -> dict[str, Any]:
    return {"description": "Weak validator of the answer: send it back in If-None-Match to get "
                           "a 304 while it holds.", "required": required,
            "schema": {"type": "string", "pattern": '^W/".*"$'}}


_NO_CACHE = {"description": "`no-cache`: revalidate a cached copy (with its ETag) before each "
                            "use; a promotion changes answers.", "required": True,
             "schema": {"const": "no-cache"}}
_RETRY_AFTER = {"description": "Seconds to wait before retrying.", "required": True,
                "schema": {"type": "integer", "minimum": 1, "examples": [RETRY_AFTER_S]}}


def _errors(*codes: int) -> dict[str, Any]:
    """References to the shared error responses; every operation can also fail with a 500."""
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in (*codes, 500)}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


#: gunicorn's ``limit_request_line`` in :func:`recsys.serving.gunicorn_options` (its maximum):
#: a longer request line gets gunicorn's own 400 before the app sees it
REQUEST_LINE_BYTES = 8190

#: Probes take no parameters but ignore any (monitors add cache-busting ones such as ``?t=…``);
#: every other operation rejects unknown ones with a 400.
_PROBE = "Query parameters are ignored (monitors may add cache-busting ones)."
_SONG_ID = {"name": "song_id", "in": "path", "required": True, "schema": ID,
            "description": f"Song id: {ID_RULE} (else 400); one that names no song is a 404 "
                           "listing it in `ids`."}
_SIMILAR_PARAMS = [
    _query("k", K, "Number of results."),
    _query("mode", {"type": "string", "enum": list(MODES), "default": "similar"},
           "similar: cosine of song vectors; next: continuation score."),
    _query("max_per_artist", MPA, "At most this many results per artist."),
    {**_query("exclude", {"type": "array", "maxItems": MAX_EXCLUDE, "items": ID},
              f"Song ids to leave out, comma-separated: `exclude=3,7`, or repeated: "
              f"`exclude=3&exclude=7` (as clients that ignore `explode` send a list; at most "
              f"{MAX_EXCLUDE} in all). The whole request line is limited to "
              f"{REQUEST_LINE_BYTES:,} bytes (longer: the server's non-JSON 400), which "
              "long lists of long ids exceed: send those as `exclude` of `POST "
              "/api/recommendations` with the song as the one seed (the same answer)."),
     "style": "form", "explode": False},
    _query("explain", {"type": "boolean", "default": False}, "Add a per-item why."),
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
     "description": "The ETag of an earlier answer: 304 while it still holds."},
]
_SIMILAR_RESPONSES = {
    "200": _json(ref("Similar"), "Recommendations. A song the model knows: with a weak ETag "
                 "(the model version and the hidden songs); a fallback: none.",
                 {"ETag": _etag(False), "Cache-Control": _NO_CACHE}),
    "304": {"description": "Not modified: If-None-Match holds the ETag of the answer still "
                           "served (no body)",
            "headers": {"ETag": _etag(True), "Cache-Control": _NO_CACHE}},
    **_errors(400, 404, 503)}


def _paths() -> dict[str, Any]:
    return {
        "/api/health": {"get": {"summary": "Liveness", "operationId": "health",
                                "description": _PROBE,
                                "responses": {"200": _json({
                                    "type": "object", "required": ["status", "version"],
                                    "properties": {"status": {"const": "ok"},
                                                   "version": {"type": "string"}}},
                                    "Alive (and the server's version)"), **_errors()}}},
        "/api/ready": {"get": {
            "summary": "Readiness: a model is loaded", "operationId": "ready",
            "description": "200 once a model is loaded. 503 (the reason in the message) "
                           "before that, while the current model cannot be loaded (a broken "
                           "bundle, one trained from another database), and while the "
                           "database's schema is known not to be this code's (its migration "
                           "changed under the running server). " + _PROBE,
            "responses": {"200": _json({
                "type": "object", "required": ["status", "model_version", "songs"],
                "properties": {"status": {"const": "ready"}, "model_version": {"type": "string"},
                               "songs": {"type": "integer"}}}, "Model loaded"),
                **_errors(503)}}},
        "/api/songs": {"get": {
            "summary": "Search songs (title/artist substring, source + external id)",
            "operationId": "listSongs",
            "description": "Unknown or repeated query parameters are rejected with 400.",
            "parameters": [
                _query("q", TEXT, "Substring of the title or the artist, ignoring case, "
                       "accents and runs of spaces ('beyonce' finds 'Beyoncé'); % and _ are "
                       "literal."),
                _query("source", TEXT, "Exact source."),
                _query("external_id", TEXT, "Exact id within the source."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                 "default": DEFAULT_LIMIT}, "Page size."),
                _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                  "default": 0}, "Skip this many songs (ordered by id)."),
            ],
            "responses": {"200": _json(ref("SongPage"), "One page"), **_errors(400, 503)}}},
        "/api/songs/{song_id}": {"get": {
            "summary": "One song with tags", "operationId": "getSong",
            "description": "Takes no query parameters (any is rejected with 400).",
            "parameters": [_SONG_ID],
            "responses": {"200": _json(ref("SongDetail"), "The song"),
                          **_errors(400, 404, 503)}}},
        "/api/songs/{song_id}/similar": {"get": {
            "summary": "Similar songs or what comes next", "operationId": "similarSongs",
            "description": "Unknown or repeated query parameters are rejected with 400.",
            "parameters": [_SONG_ID, *_SIMILAR_PARAMS], "responses": _SIMILAR_RESPONSES}},
        "/api/similar": {"get": {
            "summary": "Similar songs or what comes next, for a song named by its source's id",
            "operationId": "similarByExternalId",
            "description": "Answers what `/api/songs/{song_id}/similar` answers for the song "
                           "`external_id` of `source` (the same body, ETag and 304). "
                           "Unknown or repeated query parameters are rejected with 400. "
                           + EXTERNAL_404,
            "parameters": [
                {**_query("source", SOURCE, "The source (catalog) of the song."),
                 "required": True},
                {**_query("external_id", EXTERNAL_ID, "The song's id in `source` (e.g. a "
                          "CSV `song_id`), percent-encoded (an id holding `&`, `#`, `+` or `%` "
                          "breaks otherwise: a raw `+` reads as a space)."),
                 "required": True},
                *_SIMILAR_PARAMS,
                {**_query("exclude_external_id", {"type": "array", "maxItems": MAX_EXCLUDE,
                                                  "items": EXTERNAL_ID},
                          "Ids of `source` to leave out, one per value, repeated: "
                          "`exclude_external_id=a&exclude_external_id=b` (an id may hold a "
                          "comma); added to `exclude`; ids that name no song are ignored."),
                 "style": "form", "explode": True}],
            "responses": _SIMILAR_RESPONSES}},
        "/api/recommendations": {"post": {
            "summary": "Continuation from several seed songs (seeds never returned)",
            "operationId": "recommend",
            "description": "Takes no query parameters (any is rejected with 400).",
            "requestBody": {"required": True, "description": f"At most {MAX_BODY_BYTES} bytes.",
                            "content": {"application/json": {
                                "schema": ref("RecommendationRequest")}}},
            "responses": {"200": _json(ref("Recommendations"), "Recommendations"),
                          **_errors(400, 404, 413, 415, 503)}}},
        "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                      "description": "Query parameters are ignored.",
                                      "responses": {"200": _json({"type": "object"},
                                                                 "OpenAPI 3.1"),
                                                    **_errors()}}},
    }


def nullable_fields(schema: str) -> frozenset[str]:
    """Properties of component ``schema`` whose type allows null."""
    props = schemas()[schema]["properties"]
    return frozenset(name for name, prop in props.items()
                     if isinstance(prop.get("type"), list) and "null" in prop["type"])


def spec() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    responses = {f"E{c}": _json(ref("Error"), text) for c, text in (
        (400, "Invalid parameter or body (an unknown or repeated query parameter too)"),
        (404, "Unknown song id(s), listed in `ids`, or external id(s), listed in "
              "`external_ids` (an unknown URL: neither)"),
        (413, "Body too large"), (415, "Body is not JSON"),
        (500, "Unexpected server error: a bug, logged on the server with its traceback; the "
              "message gives no details. Retrying rarely helps."))}
    responses["E503"] = _json(ref("Error"), "Unavailable for now: no model is loaded yet, "
                              "or the database is down or busy. Retry after Retry-After.",
                              {"Retry-After": _RETRY_AFTER})
    return {
        "openapi": "3.1.0",
        "info": {"title": "playlist2vec API", "version": __version__,
                 "description": "Song recommendations from word2vec vectors of playlists. "
                                "Every error is JSON: {\"error\": {\"status\", \"message\"}}."},
        "paths": _paths(),
        "components": {"schemas": schemas(), "responses": responses},
    }
