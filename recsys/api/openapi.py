"""Hand-written OpenAPI 3.1 description of ``/api`` (served at ``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from recsys import __version__
from recsys.api.errors import RETRY_AFTER_S
from recsys.api.params import (
    DEFAULT_LIMIT,
    ID_LIMIT,
    ID_RULE,
    MAX_BODY_BYTES,
    MAX_EXCLUDE,
    MAX_LIMIT,
    MAX_OFFSET,
    MAX_QUERY_CHARS,
    MAX_SEEDS,
)
from recsys.recommend import MAX_K, MODES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


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


#: Probes take no parameters but ignore any (monitors add cache-busting ones such as ``?t=…``);
#: every other operation rejects unknown ones with a 400.
_PROBE = "Query parameters are ignored (monitors may add cache-busting ones)."
_ID = {"type": "integer", "minimum": 1, "maximum": ID_LIMIT}
_SONG_ID = {"name": "song_id", "in": "path", "required": True, "schema": _ID,
            "description": f"Song id: {ID_RULE} (else 400); one that names no song is a 404 "
                           "listing it in `ids`."}
_K = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}
_MPA = {"type": "integer", "minimum": 1, "maximum": MAX_K}
#: a short text filter of /api/songs: longer, or holding a NUL byte, is a 400
_TEXT = {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": r"^[^\u0000]*$"}


def _schemas() -> dict[str, Any]:
    song_props = {"id": {"type": "integer"}, "source": {"type": "string"},
                  "external_id": {"type": "string"}, "title": {"type": "string"},
                  "artist": {"type": "string"}}
    why = {"type": "object", "description": "Present with explain=true.",
           "required": ["playlists_with_seeds"], "properties": {
        "playlists_with_seeds": {
            "type": "integer",
            "description": "Playlists holding both this song and a seed, summed over the seeds: "
                           "the model's training playlists, or (with a fallback) every "
                           "playlist in the database."},
        "times_after_seeds": {
            "type": "integer",
            "description": "How often this song directly followed a seed in the model's "
                           "training playlists, summed over the seeds (from the model only)."},
        "score_parts": {
            "type": "object", "required": ["embedding", "popularity"],
            "properties": {name: {"type": "number"} for name in (
                "embedding", "popularity", "transitions", "cooccurrence")},
            "description": "mode=next from the model: the weighted terms of the blended score "
                           "(their sum is `score`), so the largest one says why the song ranks "
                           "here; a term the model weights 0 is left out."},
        "via": {"type": "string", "enum": ["cooccurrence", "same_artist", "popularity"],
                "description": "The fallback step that found this song."}}}
    detail_props = {
        "tags": {"type": "array", "items": {"type": "string"}},
        "available": {"type": "boolean",
                      "description": "False: never recommended (a placeholder or a takedown); "
                                     "the song still works as a seed."},
        "in_model": {"type": ["boolean", "null"],
                     "description": "Whether the served model knows the song (null: no model "
                                    "is loaded)."},
        "model_version": {"type": ["string", "null"],
                          "description": "The served model (null: none is loaded)."}}
    fallback = {"type": ["string", "null"],
                "enum": [None, "cooccurrence", "same_artist", "popularity"],
                "description": "Set when no seed is in the model (cold start)."}
    return {
        "Song": {"type": "object", "required": list(song_props), "properties": song_props},
        "SongDetail": {"type": "object", "required": [*song_props, *detail_props],
                       "properties": {**song_props, **detail_props}},
        "SongPage": {"type": "object", "required": ["items", "total", "limit", "offset"],
                     "properties": {"items": {"type": "array", "items": _ref("Song")},
                                    "total": {"type": "integer"},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"}}},
        "Item": {"type": "object", "required": ["song", "score"], "properties": {
            "song": _ref("Song"), "why": why, "score": {
                "type": "number",
                "description": "Ranking score; items come best first. similar: cosine of the "
                               "song vectors; next: the blended continuation score (not a "
                               "probability). With a fallback the scores of different `via` "
                               "steps are not comparable: keep the order."}}},
        "Similar": {"type": "object", "required": ["song", "model_version", "mode", "items",
                                                   "fallback"], "properties": {
            "song": _ref("Song"), "model_version": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "items": {"type": "array", "items": _ref("Item")}, "fallback": fallback}},
        "Recommendations": {"type": "object", "required": ["seeds", "model_version", "mode",
                                                           "items", "fallback"], "properties": {
            "seeds": {"type": "array", "items": _ref("Song")},
            "model_version": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "items": {"type": "array", "items": _ref("Item")}, "fallback": fallback}},
        "RecommendationRequest": {
            "type": "object", "required": ["song_ids"], "additionalProperties": False,
            "description": "A field sent as null is a 400 unless its type allows null "
                           "(max_per_artist: no cap); leave a field out for its default. "
                           "An integer may be written 10, 10.0 or 1e1 (not 10.5), as JSON "
                           f"Schema allows, up to {2**53} in the last two forms. "
                           "Seeds that name no song are a 404 listing them in `ids`.",
            "properties": {
                "song_ids": {"type": "array", "minItems": 1, "maxItems": MAX_SEEDS,
                             "items": _ID},
                "k": _K, "max_per_artist": {**_MPA, "type": ["integer", "null"]},
                "exclude": {"type": "array", "maxItems": MAX_EXCLUDE, "items": _ID},
                "explain": {"type": "boolean", "default": False},
                "mode": {"type": "string", "enum": list(MODES), "default": "next"}}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["status", "message"],
            "properties": {"status": {"type": "integer", "description": "The HTTP status."},
                           "message": {"type": "string"},
                           "ids": {"type": "array", "items": {"type": "integer"},
                                   "description": "404 only: the song ids that name no "
                                                  "song."}}}}},
    }


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
            "description": _PROBE,
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
                _query("q", _TEXT, "Substring of the title or the artist, ignoring case, "
                       "accents and runs of spaces ('beyonce' finds 'Beyoncé'); % and _ are "
                       "literal."),
                _query("source", _TEXT, "Exact source."),
                _query("external_id", _TEXT, "Exact id within the source."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                 "default": DEFAULT_LIMIT}, "Page size."),
                _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET,
                                  "default": 0}, "Skip this many songs (ordered by id)."),
            ],
            "responses": {"200": _json(_ref("SongPage"), "One page"), **_errors(400, 503)}}},
        "/api/songs/{song_id}": {"get": {
            "summary": "One song with tags", "operationId": "getSong",
            "description": "Takes no query parameters (any is rejected with 400).",
            "parameters": [_SONG_ID],
            "responses": {"200": _json(_ref("SongDetail"), "The song"),
                          **_errors(400, 404, 503)}}},
        "/api/songs/{song_id}/similar": {"get": {
            "summary": "Similar songs or what comes next", "operationId": "similarSongs",
            "description": "Unknown or repeated query parameters are rejected with 400.",
            "parameters": [
                _SONG_ID,
                _query("k", _K, "Number of results."),
                _query("mode", {"type": "string", "enum": list(MODES), "default": "similar"},
                       "similar: cosine of song vectors; next: continuation score."),
                _query("max_per_artist", _MPA, "At most this many results per artist."),
                {**_query("exclude", {"type": "array", "maxItems": MAX_EXCLUDE, "items": _ID},
                          f"Song ids to leave out, comma-separated: `exclude=3,7` (at most "
                          f"{MAX_EXCLUDE})."), "style": "form", "explode": False},
                _query("explain", {"type": "boolean", "default": False},
                       "Add a per-item why."),
                {"name": "If-None-Match", "in": "header", "required": False,
                 "schema": {"type": "string"},
                 "description": "The ETag of an earlier answer: 304 while it still holds."},
            ],
            "responses": {"200": _json(_ref("Similar"), "Recommendations. A song the model "
                                       "knows: with a weak ETag (the model version and the "
                                       "hidden songs); a fallback: none.",
                                       {"ETag": _etag(False), "Cache-Control": _NO_CACHE}),
                          "304": {"description": "Not modified: If-None-Match holds the "
                                                 "ETag of the answer still served (no body)",
                                  "headers": {"ETag": _etag(True),
                                              "Cache-Control": _NO_CACHE}},
                          **_errors(400, 404, 503)}}},
        "/api/recommendations": {"post": {
            "summary": "Continuation from several seed songs (seeds never returned)",
            "operationId": "recommend",
            "description": "Takes no query parameters (any is rejected with 400).",
            "requestBody": {"required": True, "description": f"At most {MAX_BODY_BYTES} bytes.",
                            "content": {"application/json": {
                                "schema": _ref("RecommendationRequest")}}},
            "responses": {"200": _json(_ref("Recommendations"), "Recommendations"),
                          **_errors(400, 404, 413, 415, 503)}}},
        "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                      "description": "Query parameters are ignored.",
                                      "responses": {"200": _json({"type": "object"},
                                                                 "OpenAPI 3.1"),
                                                    **_errors()}}},
    }


def nullable_fields(schema: str) -> frozenset[str]:
    """Properties of component ``schema`` whose type allows null."""
    props = _schemas()[schema]["properties"]
    return frozenset(name for name, prop in props.items()
                     if isinstance(prop.get("type"), list) and "null" in prop["type"])


def spec() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    responses = {f"E{c}": _json(_ref("Error"), text) for c, text in (
        (400, "Invalid parameter or body (an unknown or repeated query parameter too)"),
        (404, "Unknown song id(s), listed in `ids` (an unknown URL: no `ids`)"),
        (413, "Body too large"), (415, "Body is not JSON"),
        (500, "Unexpected server error: a bug, logged on the server with its traceback; the "
              "message gives no details. Retrying rarely helps."))}
    responses["E503"] = _json(_ref("Error"), "Unavailable for now: no model is loaded yet, "
                              "or the database is down or busy. Retry after Retry-After.",
                              {"Retry-After": _RETRY_AFTER})
    return {
        "openapi": "3.1.0",
        "info": {"title": "playlist2vec API", "version": __version__,
                 "description": "Song recommendations from word2vec vectors of playlists. "
                                "Every error is JSON: {\"error\": {\"status\", \"message\"}}."},
        "paths": _paths(),
        "components": {"schemas": _schemas(), "responses": responses},
    }
