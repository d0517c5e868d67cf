"""HTML error pages for the dashboard (the API keeps its JSON errors)."""

from __future__ import annotations

import logging

from flask import g, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from recsys.admin import bp
from recsys.db.schema_guard import is_schema_error
from recsys.db.session import is_unavailable
from recsys.errors import schema_mismatch

log = logging.getLogger("recsys.admin")

#: Seconds a client is told to wait after a 503 (database unavailable, schema changed).
RETRY_AFTER_S = 5


def error_page(status: int, title: str, message: str):
    """The error template with ``status``; without the header's user when reading it fails
    (an unrouted URL's page reads the login from the database, which may be down or lack
    its sessions table after a downgrade)."""
    try:
        return render_template("admin/error.html", status=status, title=title,
                               message=message), status
    except Exception as exc:
        if not (is_unavailable(exc) or is_schema_error(exc)):
            raise
        g.admin_user = None
        return render_template("admin/error.html", status=status, title=title,
                               message=message), status


@bp.errorhandler(404)  # code handlers: the app's 404/405 handler would win over a class one
@bp.errorhandler(405)
@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_page(exc.code or 500, exc.name, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    g.admin_user = None  # the page header must not ask the database again
    mismatch = schema_mismatch(exc)
    if mismatch is not None:  # logged once per change by the guard, not per request
        page, status = error_page(503, "Database schema changed",
                                  mismatch.message[0].upper() + mismatch.message[1:] + ".")
        return page, status, {"Retry-After": str(RETRY_AFTER_S)}
    if is_unavailable(exc):
        log.warning("database unavailable during %s: %s", request.path,
                    str(exc).splitlines()[0][:300])
        page, status = error_page(503, "Database unavailable",
                                  "The database is unavailable or busy; try again shortly.")
        return page, status, {"Retry-After": str(RETRY_AFTER_S)}
    log.exception("unhandled error in admin request")
    return error_page(500, "Internal error",
                      "Something went wrong; the details are in the server log.")


def unrouted_error(exc: HTTPException):
    """The dashboard's error page (and headers) for ``/admin`` URLs that match no route."""
    from recsys.admin.auth import security_headers

    return security_headers(make_response(_http_error(exc)))
