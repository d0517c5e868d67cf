"""The database's installation id (migration 0009), which binds a model store to it."""

from __future__ import annotations

from sqlalchemy import Engine, select

from recsys.db.models import Installation
from recsys.db.session import session_scope


def installation_id(engine: Engine) -> str:
    """The id made by migration 0009; a database without one is an error that says so."""
    with session_scope(engine) as session:
        found = session.scalar(select(Installation.installation_id))
    if not found:
        raise LookupError("the database has no installation id (table installation is "
                           "empty): restore it from the backup it came from, or run "
                           "`python -m recsys db downgrade 0008 && python -m recsys db upgrade` "
                           "to make a new one")
    return found
