"""App-level 404/405: URLs that match no route never reach a blueprint's handlers, so each
surface's prefix gets its own format here (JSON under /api, the dashboard's page under /admin)."""

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


def register_error_routing(app: Flask) -> None:
    """Send unrouted 404/405 to the surface that owns the URL."""
    app.register_error_handler(404, _unrouted)
    app.register_error_handler(405, _unrouted)
