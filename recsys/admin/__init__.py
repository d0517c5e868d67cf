"""The ``/admin`` blueprint: a server-rendered dashboard for operators.

Pages: overview, models (promote / roll back), training runs, explore (search, similar and next
songs) and an embedding map. Every page requires a login (see :mod:`recsys.admin.auth`); every
POST form carries a CSRF token.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, redirect, url_for

bp = Blueprint("admin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


@bp.record_once
def _setup_app(state) -> None:
    """App-wide pieces the dashboard needs: session cookie flags and ``/`` → ``/admin/``."""
    app: Flask = state.app
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(
        hours=float(app.config.get("ADMIN_SESSION_HOURS", 12)))
    if app.config.get("ENV_NAME") == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.add_url_rule("/", "root", lambda: redirect(url_for("admin.overview")))


from recsys.admin import (  # noqa: E402,F401 (routes, template helpers)
    auth,
    errors,
    explore,
    formatting,
    metrics,
    views,
)
