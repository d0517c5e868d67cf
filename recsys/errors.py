"""App-level 404/405: URLs that match no route never reach a blueprint's handlers, so each
surface's prefix gets its own format here (JSON under /api, the dashboard's page under /admin).
Also the security headers every response carries, and the app's schema guard (what both
surfaces answer when the database's schema changed under the server)."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException

from recsys.db.schema_guard import SchemaGuard, SchemaMismatch

SCHEMA_GUARD_KEY = "recsys.schema_guard"


def schema_guard(app: Flask | None = None) -> SchemaGuard:
    """The schema guard of ``app`` (default: the current app)."""
    return (app or current_app).extensions[SCHEMA_GUARD_KEY]


def schema_mismatch(error: BaseException) -> SchemaMismatch | None:
    """The schema mismatch behind a request's ``error`` (a database error about a missing
    column or table while the database is at another revision than the code's), else None."""
    return schema_guard().explain(error)


def _unrouted(exc: HTTPException):
    path = request.path
    if path == "/api" or path.startswith("/api/"):
        from recsys.api.errors import unrouted_error

        return unrouted_error(exc)
    if path.startswith("/admin/"):
        from recsys.admin.errors import unrouted_error

        return unrouted_error(exc)
    return exc


#: Headers every response gets unless its surface set its own (the dashboard sends a CSP that
#: allows its scripts and styles, and more): JSON and error pages need no content and no
#: framing (CSP ``frame-ancestors`` supersedes X-Frame-Options). Two headers only: werkzeug's
#: header list is scanned on every later look-up, and the API answers in about 0.5 ms.
BASELINE_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
)


def _baseline_headers(response):
    headers = response.headers
    if "Content-Security-Policy" not in headers:  # one scan (setdefault raises per miss)
        for name, value in BASELINE_HEADERS:
            headers.add(name, value)
    return response


def register_error_routing(app: Flask) -> None:
    """Send unrouted 404/405 to the surface that owns the URL; baseline security headers on
    every response (API, metrics, unrouted paths); the schema guard on the app's engine (call
    after ``db.init_app``)."""
    from recsys.extensions import db

    app.extensions[SCHEMA_GUARD_KEY] = SchemaGuard(db._state(app)[0])
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
    app.after_request(_baseline_headers)
