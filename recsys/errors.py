"""App-level 404/405: URLs that match no route never reach a blueprint's handlers, so each
surface's prefix gets its own format here (JSON under /api, the dashboard's page under /admin).
Also the security headers every response carries."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import HTTPException


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
    every response (API, metrics, unrouted paths)."""
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
    app.after_request(_baseline_headers)
