"""Per-app model holder and per-request access to the recommendation service.

``init_app`` puts one :class:`ModelHolder` in ``app.extensions``; nothing is loaded until the
first request (or :func:`warm`). Its :meth:`~ModelHolder.watch` (started by servers) also
follows the database's hidden songs. A request takes the model once and keeps that object for its
whole duration, so requests in flight when a new version is swapped in finish on the old one.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app

from recsys.api.errors import ApiError
from recsys.index.store import ModelStore
from recsys.recommend import ModelHolder, RecommendationService, ServingModel

log = logging.getLogger("recsys.api")

HOLDER_KEY = "recsys.model"


def init_app(app: Flask) -> None:
    """Attach a lazily loading model holder and the Prometheus metrics to ``app``."""
    from recsys.db.deadline import serving
    from recsys.db.installation import installation_id
    from recsys.extensions import db
    from recsys.metrics import METRICS_KEY
    from recsys.metrics import init_app as init_metrics
    from recsys.recommend.catalog import hidden_song_ids

    engine = db._state(app)[0]
    store = ModelStore(app.config["MODEL_DIR"])
    timeout_ms = app.config.get("DB_STATEMENT_TIMEOUT_MS", 0)
    def read_hidden() -> frozenset[int]:  # by watch()'s thread, bounded as a request is
        with serving():
            return hidden_song_ids(engine, timeout_ms)

    def read_installation() -> str:  # once per process: refuses another database's bundles
        with serving():
            return installation_id(engine)

    holder = app.extensions[HOLDER_KEY] = ModelHolder(
        store, poll_seconds=app.config["MODEL_POLL_SECONDS"], hidden_source=read_hidden,
        installation_source=read_installation)
    init_metrics(app)
    holder.swap_listeners.append(app.extensions[METRICS_KEY].observe_model)


def holder(app: Flask | None = None) -> ModelHolder:
    """The model holder of ``app`` (default: the current app)."""
    return (app or current_app).extensions[HOLDER_KEY]


def warm(app: Flask) -> ServingModel | None:
    """Load the current model now (e.g. in a freshly forked worker); never raises."""
    try:
        model = holder(app).get()
    except Exception:  # a broken store must not kill the worker; requests report it
        log.exception("warming the model failed")
        return None
    if model is None:
        log.warning("no model to warm: %s", holder(app).last_error or "nothing promoted yet")
    return model


def current_model() -> ServingModel | None:
    """The model to use for this request, or None when none is loaded."""
    try:
        return holder().get()
    except Exception:  # an unexpected loading error: keep serving what is loaded
        log.exception("checking for a new model failed")
        return holder().model


def require_model() -> ServingModel:
    """The model for this request; 503 JSON when no model is loaded."""
    model = current_model()
    if model is None:
        reason = holder().last_error or "no model has been promoted yet"
        raise ApiError(503, f"no model is loaded: {reason}")
    return model


def service(model: ServingModel) -> RecommendationService:
    """A service for ``model`` and this request's database session (opened on first use:
    requests for songs the model knows never touch the database)."""
    from recsys.extensions import db
    from recsys.recommend.catalog import SqlCatalog

    return RecommendationService(model, SqlCatalog(lambda: db.session))
