"""Programmatic Alembic: upgrade/downgrade/current/revision for any database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

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
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def history(url: str) -> None:
    """Print the revision history."""
    command.history(alembic_config(url))


def revision(url: str, message: str, autogenerate: bool = False) -> None:
    """Draft a new revision file (review it by hand)."""
    command.revision(alembic_config(url), message=message, autogenerate=autogenerate)
