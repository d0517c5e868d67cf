"""Explore: song search, a song page with its similar and next songs, the embedding map."""

from __future__ import annotations

from flask import abort, current_app, jsonify, render_template, request

from recsys.admin import bp, queries
from recsys.admin.projection import DEFAULT_CAP, MapCache
from recsys.admin.views import page_arg
from recsys.api import deps
from recsys.db.models import ID_MAX
from recsys.extensions import db
from recsys.recommend import UnknownSongError

SONGS_PER_PAGE = 25
NEIGHBOURS = 10
MAP_CACHE_KEY = "recsys.admin.map"


@bp.get("/explore")
def explore():
    """Search songs by words of their title and artist (``hidden=1``: hidden songs only),
    paginated."""
    q = request.args.get("q", "").replace("\x00", "").strip()[:200]  # PostgreSQL text: no NUL
    hidden = request.args.get("hidden") == "1"
    page = page_arg()
    items, total = queries.search_songs(db.session, q or None, SONGS_PER_PAGE,
                                        (page - 1) * SONGS_PER_PAGE, hidden_only=hidden)
    # an app's own id, or a catalog id, on the first page of an ordinary search
    by_id = queries.songs_by_id(db.session, q) if page == 1 and not hidden else []
    model = deps.current_model()
    for item in (*items, *by_id):
        item["in_model"] = None if model is None else model.row_of(item["id"]) is not None
    pages = max(1, -(-total // SONGS_PER_PAGE))
    return render_template("admin/explore.html", q=q, items=items, total=total, page=page,
                           pages=pages, model=model, hidden=hidden, by_id=by_id)


@bp.get("/songs/<int:song_id>")
def song(song_id: int):
    """A song's metadata and tags, and its ``similar`` and ``next`` lists with explanations."""
    detail = queries.song_detail(db.session, song_id) if song_id <= ID_MAX else None
    if detail is None:
        abort(404, description=f"There is no song {song_id}.")
    detail["playlists"] = queries.song_playlist_count(db.session, song_id)
    model = deps.current_model()  # one model object for the whole request
    lists: dict[str, dict] = {}
    error = None
    if model is not None:
        service = deps.service(model)
        try:
            for mode in ("similar", "next"):
                lists[mode] = service.similar(song_id, k=NEIGHBOURS, mode=mode, explain=True)
        except (UnknownSongError, ValueError) as exc:
            error = str(exc)
    return render_template(
        "admin/song.html", song=detail, model=model, lists=lists, error=error,
        in_model=model is not None and model.row_of(song_id) is not None,
        load_error=deps.holder().last_error)


@bp.get("/map")
def map_page():
    """The canvas that draws ``map.json``."""
    model = deps.current_model()
    return render_template("admin/map.html", model=model, cap=_map_cap())


def _map_cap() -> int:
    return int(current_app.config.get("ADMIN_MAP_POINTS", DEFAULT_CAP))


@bp.get("/map.json")
def map_json():
    """2-D PCA projection of the current model's most popular songs (cached per version), and
    which of them are hidden now."""
    model = deps.current_model()
    if model is None:
        reason = deps.holder().last_error or "no model has been promoted yet"
        return jsonify({"error": {"status": 503, "message": f"no model is loaded: {reason}"}}), 503
    cache: MapCache = current_app.extensions.setdefault(MAP_CACHE_KEY, MapCache())
    body = cache.get(model, _map_cap(), lambda ids: queries.top_tags(db.session, ids))
    hidden = model.hidden.ids  # changes without a new model: not part of the cached map
    return jsonify({**body, "hidden": [i for i in body["ids"] if i in hidden] if hidden else []})
