"""Routes of the recommendation API."""

from __future__ import annotations

from flask import jsonify

from recsys import __version__
from recsys.api import bp


@bp.get("/health")
def health():
    """Liveness: the process answers."""
    return jsonify({"status": "ok", "version": __version__})
