"""The ``/api`` blueprint: JSON endpoints only."""

from flask import Blueprint

bp = Blueprint("api", __name__)

from recsys.api import errors, routes  # noqa: E402,F401  (registers handlers and routes)
