"""The value and component schemas of the OpenAPI document (:mod:`recsys.api.openapi`)."""

from __future__ import annotations

from typing import Any

from recsys.api.params import (
    EXTERNAL_ID_CHARS,
    ID_LIMIT,
    MAX_EXCLUDE,
    MAX_QUERY_CHARS,
    MAX_SEEDS,
    SOURCE_CHARS,
)
from recsys.recommend import MAX_K, MODES


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


ID = {"type": "integer", "minimum": 1, "maximum": ID_LIMIT}
K = {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10}
MPA = {"type": "integer", "minimum": 1, "maximum": MAX_K}
#: a short text filter of /api/songs: longer, or holding a NUL byte, is a 400
TEXT = {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": r"^[^\u0000]*$"}
#: a source or an external id: not blank, no NUL byte, at most its database column's length
#: (stripped of surrounding spaces before use)
NONBLANK = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
SOURCE = {"type": "string", "minLength": 1, "maxLength": SOURCE_CHARS, "pattern": NONBLANK}
EXTERNAL_ID = {"type": "string", "minLength": 1, "maxLength": EXTERNAL_ID_CHARS,
               "pattern": NONBLANK}
EXTERNAL_404 = ("External ids that name no song of the source are a 404 listing them in "
                "`external_ids`.")


def schemas() -> dict[str, Any]:
    """The document's ``components.schemas``."""
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
        "via": {**ref("FallbackStep"), "description": "The fallback step that found this song."}}}
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
    # null beside a reference, not inside an enum: generators then make one FallbackStep enum
    # and ``FallbackStep | None`` (not an enum copy per field, or a None member)
    fallback = {"anyOf": [ref("FallbackStep"), {"type": "null"}],
                "description": "Set when no seed is in the model (cold start): the fallback "
                               "step that answered."}
    return {
        "FallbackStep": {"type": "string", "enum": ["cooccurrence", "same_artist", "popularity"],
                         "description": "How an answer for songs the model does not know was "
                                        "found: co-occurrence in the database's playlists, "
                                        "the same artist, popularity."},
        "Song": {"type": "object", "required": list(song_props), "properties": song_props},
        "SongDetail": {"type": "object", "required": [*song_props, *detail_props],
                       "properties": {**song_props, **detail_props}},
        "SongPage": {"type": "object", "required": ["items", "total", "limit", "offset"],
                     "properties": {"items": {"type": "array", "items": ref("Song")},
                                    "total": {"type": "integer"},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"}}},
        "Item": {"type": "object", "required": ["song", "score"], "properties": {
            "song": ref("Song"), "why": why, "score": {
                "type": "number",
                "description": "Ranking score; items come best first. similar: cosine of the "
                               "song vectors; next: the blended continuation score (not a "
                               "probability). With a fallback the scores of different `via` "
                               "steps are not comparable: keep the order."}}},
        "Similar": {"type": "object", "required": ["song", "model_version", "mode", "items",
                                                   "fallback"], "properties": {
            "song": ref("Song"), "model_version": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "items": {"type": "array", "items": ref("Item")}, "fallback": fallback}},
        "Recommendations": {"type": "object", "required": ["seeds", "model_version", "mode",
                                                           "items", "fallback"], "properties": {
            "seeds": {"type": "array", "items": ref("Song")},
            "model_version": {"type": "string"},
            "mode": {"type": "string", "enum": list(MODES)},
            "items": {"type": "array", "items": ref("Item")}, "fallback": fallback}},
        "RecommendationRequest": {
            "type": "object", "additionalProperties": False,
            "description": "Seeds by catalog id (`song_ids`) or by the ids of one source "
                           "(`source` and `external_ids`): exactly one of the two. "
                           "`exclude_external_ids` (ids of `source` too) adds to `exclude`; "
                           "ids in either that name no song are ignored. "
                           "A field sent as null is a 400 unless its type allows null "
                           "(max_per_artist: no cap); leave a field out for its default. "
                           "An integer may be written 10, 10.0 or 1e1 (not 10.5), as JSON "
                           f"Schema allows, up to {2**53} in the last two forms. "
                           "Seeds that name no song are a 404 listing them in `ids`. "
                           + EXTERNAL_404,
            # inside allOf: a top-level oneOf makes openapi-python-client drop the model
            "allOf": [{"oneOf": [{"required": ["song_ids"]}, {"required": ["external_ids"]}]}],
            "dependentRequired": {"external_ids": ["source"],
                                  "exclude_external_ids": ["source"]},
            "dependentSchemas": {"source": {"anyOf": [{"required": ["external_ids"]},
                                                      {"required": ["exclude_external_ids"]}]}},
            "properties": {
                "song_ids": {"type": "array", "minItems": 1, "maxItems": MAX_SEEDS,
                             "items": ID},
                "source": {**SOURCE, "description": "The source (catalog) whose ids "
                                                     "`external_ids` and "
                                                     "`exclude_external_ids` are."},
                "external_ids": {"type": "array", "minItems": 1, "maxItems": MAX_SEEDS,
                                 "items": EXTERNAL_ID,
                                 "description": "Seeds by their id in `source` (instead "
                                                "of `song_ids`)."},
                "k": K, "max_per_artist": {**MPA, "type": ["integer", "null"]},
                "exclude": {"type": "array", "maxItems": MAX_EXCLUDE, "items": ID},
                "exclude_external_ids": {"type": "array", "maxItems": MAX_EXCLUDE,
                                         "items": EXTERNAL_ID,
                                         "description": "Songs to leave out, by their id "
                                                        "in `source`."},
                "explain": {"type": "boolean", "default": False},
                "mode": {"type": "string", "enum": list(MODES), "default": "next"}}},
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": ref("ErrorDetail")}},
        "ErrorDetail": {
            "type": "object", "required": ["status", "message"],
            "properties": {"status": {"type": "integer", "description": "The HTTP status."},
                           "message": {"type": "string"},
                           "ids": {"type": "array", "items": {"type": "integer"},
                                   "description": "404 only: the song ids that name no "
                                                  "song."},
                           "external_ids": {"type": "array", "items": {"type": "string"},
                                            "description": "404 only: the external ids "
                                                           "that name no song of their "
                                                           "source."}}},
    }
