"""Hand-written OpenAPI 3.1 description of ``/api`` (served at ``GET /api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from recsys import __version__
from recsys.api.params import (
    DEFAULT_LIMIT,
    ID_LIMIT,
    ID_RULE,
    MAX_BODY_BYTES,
    MAX_EXCLUDE,
    MAX_LIMIT,
    MAX_SEEDS,
)
from recsys.recommend import MAX_K, MODES


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"$ref": f"#/components/responses/E{c}"} for c in codes}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


_ID = {"type": "integer", "minimum": 1, "maximum": ID_LIMIT}
_SONG_ID = {"name": "song_id", "in": "path", "required": True, "schema": _ID,
            "description": f"Song id: {ID_RULE} (else 400); one that names no song is a 404 "
                           "listing it in `ids`."}
_K = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}
_MPA = {"type": "integer", "minimum": 1, "maximum": MAX_K}


def _schemas() -> dict[str, Any]:
    song_props = {"id": {"type": "integer"}, "source": {"type": "string"},
                  "external_id": {"type": "string"}, "title": {"type": "string"},
                  "artist": {"type": "string"}}
    why = {"type": "object", "description": "Present with explain=true.", "properties": {
        "playlists_with_seeds": {
            "type": "integer",
            "description": "Playlists holding both this song and a seed, summed over the seeds: "
                           "the model's training playlists, or (with a fallback) every "
                           "playlist in the database."},
        "times_after_seeds": {
            "type": "integer",
            "description": "How often this song directly followed a seed in the model's "
                           "training playlists, summed over the seeds."},
        "score_parts": {
            "type": "object", "additionalProperties": {"type": "number"},
            "description": "mode=next from the model: the weighted terms of the blended score "
                           "(embedding, popularity, transitions, cooccurrence; their sum is "
                           "`score`), so the largest one says why the song ranks here."},
        "via": {"type": "string", "enum": ["cooccurrence", "same_artist", "popularity"],
                "description": "The fallback step that found this song."}}}
    fallback = {"type": ["string", "null"],
                "enum": [None, "cooccurrence", "same_artist", "popularity"],
                "description": "Set when no seed is in the model (cold start)."}
    return {
        "Song": {"type": "object", "required": list(song_props), "properties": song_props},
        "SongDetail": {"allOf": [_ref("Song"), {"type": "object", "properties": {
            "tags": {"type": "array", "items": {"type": "string"}},
            "available": {"type": "boolean",
                          "description": "False: never recommended (a placeholder or a "
                                         "takedown); the song still works as a seed."},
            "in_model": {"type": ["boolean", "null"],
                         "description": "Whether the served model knows the song (null: none)."},
            "model_version": {"type": ["string", "null"]}}}]},
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
            "properties": {"status": {"type": "integer"}, "message": {"type": "string"},
                           "ids": {"type": "array", "items": {"type": "integer"}}}}}},
    }


def _paths() -> dict[str, Any]:
    return {
        "/api/health": {"get": {"summary": "Liveness", "operationId": "health",
                                "responses": {"200": _json({"type": "object"}, "Alive")}}},
        "/api/ready": {"get": {
            "summary": "Readiness: a model is loaded", "operationId": "ready",
            "responses": {"200": _json({"type": "object", "properties": {
                "status": {"type": "string"}, "model_version": {"type": "string"},
                "songs": {"type": "integer"}}}, "Model loaded"), **_errors(503)}}},
        "/api/songs": {"get": {
            "summary": "Search songs (title/artist substring, source + external id)",
            "operationId": "listSongs",
            "description": "Unknown or repeated query parameters are rejected with 400.",
            "parameters": [
                _query("q", {"type": "string", "maxLength": 200},
                       "Case-insensitive substring of title or artist."),
                _query("source", {"type": "string"}, "Exact source."),
                _query("external_id", {"type": "string"}, "Exact id within the source."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                 "default": DEFAULT_LIMIT}, "Page size."),
                _query("offset", {"type": "integer", "minimum": 0, "default": 0}, "Skip."),
            ],
            "responses": {"200": _json(_ref("SongPage"), "One page"), **_errors(400)}}},
        "/api/songs/{song_id}": {"get": {
            "summary": "One song with tags", "operationId": "getSong",
            "description": "Takes no query parameters (any is rejected with 400).",
            "parameters": [_SONG_ID],
            "responses": {"200": _json(_ref("SongDetail"), "The song"), **_errors(400, 404)}}},
        "/api/songs/{song_id}/similar": {"get": {
            "summary": "Similar songs or what comes next", "operationId": "similarSongs",
            "description": "Unknown or repeated query parameters are rejected with 400.",
            "parameters": [
                _SONG_ID,
                _query("k", _K, "Number of results."),
                _query("mode", {"type": "string", "enum": list(MODES), "default": "similar"},
                       "similar: cosine of song vectors; next: continuation score."),
                _query("max_per_artist", _MPA, "At most this many results per artist."),
                _query("exclude", {"type": "string", "pattern": "^[0-9]+(,[0-9]+)*$"},
                       f"Comma-separated song ids to leave out (at most {MAX_EXCLUDE})."),
                _query("explain", {"type": "boolean", "default": False},
                       "Add a per-item why."),
            ],
            "responses": {"200": _json(_ref("Similar"), "Recommendations (songs the model "
                                       "knows: weak ETag = the model version)"),
                          "304": {"description": "Not modified: If-None-Match holds the "
                                                 "ETag of the model still served"},
                          **_errors(400, 404, 503)}}},
        "/api/recommendations": {"post": {
            "summary": "Continuation from several seed songs (seeds never returned)",
            "operationId": "recommend",
            "requestBody": {"required": True, "description": f"At most {MAX_BODY_BYTES} bytes.",
                            "content": {"application/json": {
                                "schema": _ref("RecommendationRequest")}}},
            "responses": {"200": _json(_ref("Recommendations"), "Recommendations"),
                          **_errors(400, 404, 413, 415, 503)}}},
        "/api/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                      "responses": {"200": _json({"type": "object"},
                                                                 "OpenAPI 3.1")}}},
    }


def nullable_fields(schema: str) -> frozenset[str]:
    """Properties of component ``schema`` whose type allows null."""
    props = _schemas()[schema]["properties"]
    return frozenset(name for name, prop in props.items()
                     if isinstance(prop.get("type"), list) and "null" in prop["type"])


def spec() -> dict[str, Any]:
    """The OpenAPI document as a dict."""
    responses = {f"E{c}": _json(_ref("Error"), text) for c, text in (
        (400, "Invalid parameter or body"),
        (404, "Unknown song id(s), listed in `ids` (an unknown URL: no `ids`)"),
        (413, "Body too large"),
        (415, "Body is not JSON"), (503, "No model is loaded yet"))}
    return {
        "openapi": "3.1.0",
        "info": {"title": "playlist2vec API", "version": __version__,
                 "description": "Song recommendations from word2vec vectors of playlists. "
                                "Every error is JSON: {\"error\": {\"status\", \"message\"}}."},
        "paths": _paths(),
        "components": {"schemas": _schemas(), "responses": responses},
    }
