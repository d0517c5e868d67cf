"""Routes of the recommendation API: parse parameters, call the service, return JSON."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from recsys import __version__
from recsys.api import bp, deps, params
from recsys.api.errors import ApiError
from recsys.api.openapi import nullable_fields
from recsys.db.models import ID_MAX
from recsys.metrics import count_answer
from recsys.recommend import (
    RecommendationService,
    ServingModel,
    UnknownExternalIdError,
    UnknownSongError,
)

SIMILAR_ARGS = {"k", "mode", "max_per_artist", "exclude", "explain"}
SIMILAR_EXTERNAL_ARGS = SIMILAR_ARGS | {"source", "external_id", "exclude_external_id"}
#: query parameters that may repeat (their values joined with commas)
LIST_ARGS = {"exclude"}
SONGS_ARGS = {"q", "source", "external_id", "limit", "offset"}
RECOMMEND_FIELDS = ("song_ids", "source", "external_ids", "k", "exclude",
                    "exclude_external_ids", "max_per_artist", "explain", "mode")
#: Fields of a recommendation request that may be sent as null (as the OpenAPI document says)
NULLABLE_FIELDS = nullable_fields("RecommendationRequest")


@bp.after_request
def _options_answer(response):
    """Flask answers ``OPTIONS`` itself with an empty 200 typed text/html; an empty answer
    (its ``Allow`` header says which methods the path takes) is a 204 without a type."""
    if request.method == "OPTIONS" and response.status_code == 200 and not response.content_length:
        response.status_code = 204
        response.headers.pop("Content-Type", None)
    return response


@bp.get("/health")
def health():
    """Liveness: the process answers."""
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/ready")
def ready():
    """Readiness: 200 once a model is loaded (version and song count), 503 before, and while
    the database's schema is known not to be this code's (a request found it changed)."""
    from recsys.errors import schema_guard

    mismatch = schema_guard().current()  # no query unless a mismatch is known
    if mismatch is not None:
        raise ApiError(503, f"not ready: {mismatch.message}")
    model = deps.current_model()
    if model is None:
        reason = deps.holder().last_error or "no model has been promoted yet"
        raise ApiError(503, f"not ready: {reason}")
    return jsonify({"status": "ready", "model_version": model.version, "songs": len(model)})


@bp.get("/songs")
def list_songs():
    """Search by title/artist substring, or look up by source and external id; paginated."""
    from recsys.api.queries import search_songs
    from recsys.extensions import db

    args = params.query_args(SONGS_ARGS)
    q = params.text(args.get("q"), "q")
    source = params.text(args.get("source"), "source")
    external_id = params.text(args.get("external_id"), "external_id")
    limit, offset = params.page(args)
    items, total = search_songs(db.session, q, source, external_id, limit, offset)
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.get("/songs/<song_id>")
def get_song(song_id: str):
    """One song with its tags and whether the current model knows it."""
    from recsys.api.queries import song_detail
    from recsys.extensions import db

    sid = params.song_id(song_id)
    params.query_args(())  # takes none: a stray parameter is a client bug, as elsewhere
    song = song_detail(db.session, sid) if sid <= ID_MAX else None
    if song is None:
        raise params.unknown_songs([sid])
    model = deps.current_model()
    song["in_model"] = None if model is None else model.row_of(sid) is not None
    song["model_version"] = None if model is None else model.version
    return jsonify(song)


@bp.get("/songs/<song_id>/similar")
def similar(song_id: str):
    """Songs similar to (``mode=similar``) or following (``mode=next``) one song."""
    sid = params.song_id(song_id)
    options = _similar_options(params.query_args(SIMILAR_ARGS, LIST_ARGS))
    model = deps.require_model()  # one model object for the whole request
    return _similar(model, deps.service(model), sid, options)


@bp.get("/similar")
def similar_by_external_id():
    """``/songs/{id}/similar`` for the song a source knows by ``external_id``."""
    args = params.query_args(SIMILAR_EXTERNAL_ARGS, LIST_ARGS | {"exclude_external_id"})
    source = params.source(params.required(args.get("source"), "source"))
    external_id = params.name(params.required(args.get("external_id"), "external_id"),
                              "external_id", params.EXTERNAL_ID_CHARS)
    # one id per value, repeated (an id may hold a comma, so no comma-separated form)
    exclude_external = params.external_ids(request.args.getlist("exclude_external_id"),
                                           "exclude_external_id", params.MAX_EXCLUDE,
                                           at_least_one=False)
    options = _similar_options(args)
    model = deps.require_model()
    svc = deps.service(model)
    try:
        (sid,), excluded = svc.resolve(source, [external_id], exclude_external)
    except UnknownExternalIdError as exc:
        raise _unknown_external(exc) from exc
    options["exclude"] = [*options["exclude"], *excluded]
    return _similar(model, svc, sid, options)


def _unknown_external(exc: UnknownExternalIdError):
    """The 404 of ``exc``, saying whether its source names any song (one indexed query, on
    this error only: the look-up that raised it asked the database already)."""
    from sqlalchemy import select

    from recsys.db.models import Song
    from recsys.extensions import db

    exists = db.session.scalar(select(Song.id).where(Song.source == exc.source).limit(1))
    return params.unknown_external(exc, source_exists=exists is not None)


def _similar_options(args: dict[str, str]) -> dict[str, Any]:
    return dict(
        k=params.k(args.get("k")),
        mode=params.mode(args.get("mode"), "similar"),
        max_per_artist=params.max_per_artist(args.get("max_per_artist")),
        exclude=params.exclude(args.get("exclude")),
        explain=params.flag(args.get("explain"), "explain"),
    )


def _similar(model: ServingModel, svc: RecommendationService, sid: int,
             options: dict[str, Any]):
    """The answer of both ``/similar`` routes for catalog id ``sid``."""
    # a song the model knows: the answer depends on the URL, the model version and the hidden
    # songs only, so those are its ETag and a client's cached copy is revalidated without
    # recomputing
    hidden = model.hidden
    etag = None
    if model.row_of(sid) is not None:
        etag = f"{model.version}.{hidden.tag}" if hidden.tag else model.version
    if etag is not None and request.if_none_match.contains_weak(etag):
        return _cacheable(current_app.response_class(status=304), etag)
    try:  # known songs: the body joined from pre-serialised song JSON (same content)
        text = svc.similar_json(sid, **options)
    except ValueError as exc:
        raise params.bad(str(exc)) from exc
    if text is not None:
        resp = current_app.response_class(f"{text}\n", mimetype=current_app.json.mimetype)
        count_answer(current_app, options["mode"], None, '"items":[]' not in text)
    else:
        resp = _run(lambda: svc.similar(sid, **options))
    if model.hidden is not hidden:  # the hidden songs changed meanwhile: no validator
        etag = None
    return _cacheable(resp, etag)


def _cacheable(resp, etag: str | None):
    """``ETag`` (weak: the model version) and ``Cache-Control: no-cache`` (revalidate each
    time: a promotion changes the answer); fallback answers read the database: no ETag."""
    if etag is not None:
        resp.set_etag(etag, weak=True)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


@bp.post("/recommendations")
def recommendations():
    """Continuation from several seed songs (seeds are never returned), named by catalog id
    (``song_ids``) or by the ids of one source (``source`` and ``external_ids``)."""
    params.query_args(())  # everything goes in the body
    body = params.json_object(RECOMMEND_FIELDS)
    params.no_nulls(body, NULLABLE_FIELDS)
    by_external = _seed_form(body)
    source = params.source(body["source"]) if "source" in body else None
    seeds = [] if by_external else params.seed_ids(body["song_ids"])
    external = params.external_ids(body.get("external_ids", []), "external_ids",
                                   params.MAX_SEEDS, at_least_one=by_external)
    exclude_external = params.external_ids(body.get("exclude_external_ids", []),
                                           "exclude_external_ids", params.MAX_EXCLUDE,
                                           at_least_one=False)
    options = dict(
        k=params.k(body.get("k"), from_json=True),
        mode=params.mode(body.get("mode"), "next"),
        max_per_artist=params.max_per_artist(body.get("max_per_artist"), from_json=True),
        exclude=params.exclude(body.get("exclude"), from_json=True),
        explain=params.flag(body.get("explain"), "explain", from_json=True),
    )
    model = deps.require_model()
    svc = deps.service(model)
    if source is not None:  # seeds (or excluded songs) by external id: catalog ids
        known_seed = any(model.row_of(i) is not None for i in seeds)  # seeds by catalog id
        try:
            found, excluded = svc.resolve(source, external, exclude_external, known_seed)
        except UnknownExternalIdError as exc:
            raise _unknown_external(exc) from exc
        seeds = [*seeds, *found]  # one of the two is empty
        options["exclude"] = [*options["exclude"], *excluded]
    return _run(lambda: svc.recommend(seeds, **options))


def _seed_form(body: dict[str, Any]) -> bool:
    """Whether the seeds are external ids (else catalog ids): exactly one form, with
    ``source`` exactly when external ids are given (400 otherwise)."""
    by_ids, by_external = "song_ids" in body, "external_ids" in body
    if by_ids == by_external:
        raise params.bad("give the seeds either as song_ids (catalog ids) or as source and "
                         "external_ids (the source's ids), " + (
                             "not both" if by_ids else "one of them is required"))
    uses_source = by_external or "exclude_external_ids" in body
    if uses_source and "source" not in body:
        raise params.bad("source is required with external_ids and exclude_external_ids "
                         "(the source whose ids they are)")
    if "source" in body and not uses_source:
        raise params.bad("source names the source of external_ids or exclude_external_ids: "
                         "give one of them, or leave source out")
    return by_external


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    from recsys.api.openapi import spec

    return jsonify(spec())


def _run(call):
    """The JSON answer of ``call()`` (a recommendation body), counted in /metrics."""
    try:
        body = call()
        count_answer(current_app, body["mode"], body["fallback"], len(body["items"]))
        return jsonify(body)
    except UnknownSongError as exc:
        raise params.unknown_songs(exc.ids) from exc
    except ValueError as exc:
        raise params.bad(str(exc)) from exc
