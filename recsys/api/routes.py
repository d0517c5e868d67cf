"""Routes of the recommendation API: parse parameters, call the service, return JSON."""

from __future__ import annotations

from flask import current_app, jsonify, request

from recsys import __version__
from recsys.api import bp, deps, params
from recsys.api.errors import ApiError
from recsys.api.openapi import nullable_fields
from recsys.db.models import ID_MAX
from recsys.recommend import UnknownSongError

SIMILAR_ARGS = {"k", "mode", "max_per_artist", "exclude", "explain"}
SONGS_ARGS = {"q", "source", "external_id", "limit", "offset"}
RECOMMEND_FIELDS = ("song_ids", "k", "exclude", "max_per_artist", "explain", "mode")
#: Fields of a recommendation request that may be sent as null (as the OpenAPI document says)
NULLABLE_FIELDS = nullable_fields("RecommendationRequest")


@bp.get("/health")
def health():
    """Liveness: the process answers."""
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/ready")
def ready():
    """Readiness: 200 once a model is loaded (version and song count), 503 before."""
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
    args = params.query_args(SIMILAR_ARGS)
    options = dict(
        k=params.k(args.get("k")),
        mode=params.mode(args.get("mode"), "similar"),
        max_per_artist=params.max_per_artist(args.get("max_per_artist")),
        exclude=params.exclude(args.get("exclude")),
        explain=params.flag(args.get("explain"), "explain"),
    )
    model = deps.require_model()  # one model object for the whole request
    # a song the model knows: the answer depends on the URL, the model version and the hidden
    # songs only, so those are its ETag and a client's cached copy is revalidated without
    # recomputing
    hidden = model.hidden
    etag = None
    if model.row_of(sid) is not None:
        etag = f"{model.version}.{hidden.tag}" if hidden.tag else model.version
    if etag is not None and request.if_none_match.contains_weak(etag):
        return _cacheable(current_app.response_class(status=304), etag)
    svc = deps.service(model)
    try:  # known songs: the body joined from pre-serialised song JSON (same content)
        text = svc.similar_json(sid, **options)
    except ValueError as exc:
        raise params.bad(str(exc)) from exc
    if text is not None:
        resp = current_app.response_class(f"{text}\n", mimetype=current_app.json.mimetype)
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
    """Continuation from several seed songs (seeds are never returned)."""
    params.query_args(())  # everything goes in the body
    body = params.json_object(RECOMMEND_FIELDS)
    params.no_nulls(body, NULLABLE_FIELDS)
    seeds = params.seed_ids(body.get("song_ids"))
    options = dict(
        k=params.k(body.get("k"), from_json=True),
        mode=params.mode(body.get("mode"), "next"),
        max_per_artist=params.max_per_artist(body.get("max_per_artist"), from_json=True),
        exclude=params.exclude(body.get("exclude"), from_json=True),
        explain=params.flag(body.get("explain"), "explain", from_json=True),
    )
    model = deps.require_model()
    return _run(lambda: deps.service(model).recommend(seeds, **options))


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 description of this API."""
    from recsys.api.openapi import spec

    return jsonify(spec())


def _run(call):
    try:
        return jsonify(call())
    except UnknownSongError as exc:
        raise params.unknown_songs(exc.ids) from exc
    except ValueError as exc:
        raise params.bad(str(exc)) from exc
