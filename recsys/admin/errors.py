"""HTML error pages for the dashboard (the API keeps its JSON errors)."""

from __future__ import annotations

import logging

from flask import g, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from recsys.admin import bp
from recsys.db.session import is_unavailable

log = logging.getLogger("recsys.admin")


def error_page(status: int, title: str, message: str):
    """The error template with ``status``."""
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
    if is_unavailable(exc):
        log.warning("database unavailable during %s: %s", request.path,
                    str(exc).splitlines()[0][:300])
        page, status = error_page(503, "Database unavailable",
                                  "The database is unavailable or busy; try again shortly.")
        return page, status, {"Retry-After": "5"}
    log.exception("unhandled error in admin request")
    return error_page(500, "Internal error",
                      "Something went wrong; the details are in the server log.")


def unrouted_error(exc: HTTPException):
    """The dashboard's error page (and headers) for ``/admin`` URLs that match no route."""
    from recsys.admin.auth import security_headers

    return security_headers(make_response(_http_error(exc)))
