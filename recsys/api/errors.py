"""JSON errors for everything under ``/api``: clients never get an HTML page or a 5xx for input."""

from __future__ import annotations

import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from recsys.api import bp
from recsys.db.session import is_unavailable
from recsys.errors import schema_mismatch

log = logging.getLogger("recsys.api")


class ApiError(Exception):
    """An error with an HTTP status and a message for the client."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: object):
    """``{"error": {"status": ..., "message": ...}}`` with ``status``."""
    body = {"error": {"status": status, "message": message, **extra}}
    return jsonify(body), status


#: A 503 (no model loaded yet) tells clients when to retry: a server loads its model within
#: seconds of starting or of a promotion.
RETRY_AFTER_S = 5


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    resp, status = error_response(exc.status, exc.message, **exc.extra)
    if status == 503:
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp, status


def http_error_response(exc: HTTPException):
    """JSON for a werkzeug ``HTTPException``, keeping its headers (``Allow`` of a 405...)."""
    resp, status = error_response(exc.code or 500, exc.description or exc.name)
    for name, value in exc.get_headers():
        if name.lower() not in ("content-type", "content-length"):
            resp.headers[name] = value
    return resp, status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return http_error_response(exc)


#: Message of a 503 when the database is down, unreachable, busy or too slow.
DATABASE_UNAVAILABLE = "the database is unavailable or busy; retry shortly"


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    mismatch = schema_mismatch(exc)
    if mismatch is not None:  # logged once per change by the guard, not per request
        return _api_error(ApiError(503, mismatch.message))
    if is_unavailable(exc):  # transient: one line in the log, a retryable answer
        log.warning("database unavailable during %s: %s", request.path,
                    str(exc).splitlines()[0][:300])
        return _api_error(ApiError(503, DATABASE_UNAVAILABLE))
    log.exception("unhandled error in API request")
    return error_response(500, "internal server error")


def unrouted_error(exc: HTTPException):
    """JSON for a 404/405 raised before routing reached the blueprint (an unknown URL)."""
    from flask import request

    if exc.code == 404 and request.url_rule is None:
        return error_response(404, f"no API endpoint at {request.path}; the endpoints are "
                                   "listed in /api/openapi.json")
    return http_error_response(exc)
