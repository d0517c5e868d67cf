"""Programmatic Alembic: upgrade/downgrade/current/revision for any database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection

from recsys.db.session import normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """Alembic configuration pointing at ``migrations/`` and ``url``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema of the database at ``url``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the schema to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> None:
    """Print the current revision."""
    command.current(alembic_config(url), verbose=False)


def revision_of(url: str) -> str | None:
    """The database's schema revision (None: no schema yet)."""
    from recsys.db.session import make_engine

    engine = make_engine(url)  # an SQLite file's directory is created: an empty database
    try:
        with engine.connect() as conn:
            return revision_on(conn)
    finally:
        engine.dispose()


def revision_on(conn: Connection) -> str | None:
    """The schema revision recorded in the database of ``conn`` (None: no schema yet); one
    small query, on a connection the caller already has (a server's pooled one)."""
    from alembic.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _scripts():
    """The revision scripts of ``migrations/``."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head() -> str:
    """The newest revision of ``migrations/`` (what this code expects)."""
    return _scripts().get_current_head()


def check_schema(url: str, allow_older: bool = False) -> None:
    """Raise ``RuntimeError`` when the database's schema is not at :func:`head`.

    ``allow_older``: a revision of ``migrations/`` before the head passes too (``backup`` of
    a database about to be upgraded: the copy to restore if the upgrade goes wrong). A database
    that cannot be reached is not an error here (the server can still answer from its model,
    and reports the database in each request that needs it).
    """
    from sqlalchemy.exc import OperationalError

    try:
        found = revision_of(url)
    except OperationalError:
        return
    expected = head()
    if found is not None and found != expected and not _known(found):
        raise RuntimeError(
            f"the database schema is at revision {found}, newer than this code knows "
            f"(its newest is {expected}): deploy the matching code, or `db downgrade "
            f"{expected}` with the newer code")
    if found != expected and not (allow_older and found is not None):
        raise RuntimeError(
            f"the database schema is at revision {found or 'none (empty database)'} but this "
            f"code needs {expected}: run `python -m recsys db upgrade` first")


def _known(revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False


def history(url: str) -> None:
    """Print the revision history."""
    command.history(alembic_config(url))


def revision(url: str, message: str, autogenerate: bool = False) -> None:
    """Draft a new revision file (review it by hand)."""
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)
