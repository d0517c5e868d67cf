"""Declarative base, naming convention and shared column helpers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names so Alembic migrations are reviewable and portable.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON has no NaN:
    PostgreSQL rejects it, SQLite would store a non-standard token)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


class FiniteJSON(TypeDecorator):
    """JSON on SQLite, JSONB on PostgreSQL; non-finite floats are stored as null (a metric of
    an empty set is NaN)."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        return finite_json(value)


JSONType = FiniteJSON


def utcnow() -> datetime:
    """Current UTC time; passed as a callable so it is evaluated per row."""
    return datetime.now(UTC)


def TZDateTime() -> DateTime:  # noqa: N802 - reads like a type
    """Timezone-aware timestamp column type."""
    return DateTime(timezone=True)


#: Indexes a migration creates only where the database allows it (PostgreSQL with pg_trgm,
#: migration 0007, 0005 before it); not in the models, so autogenerate and schema checks
#: leave them alone.
OPTIONAL_INDEXES = frozenset({"ix_songs_search_key_trgm", "ix_songs_title_trgm",
                              "ix_songs_artist_trgm"})


def include_in_autogenerate(obj: Any, name: str | None, type_: str, reflected: bool,
                            compare_to: Any) -> bool:
    """Alembic ``include_object`` hook: skip :data:`OPTIONAL_INDEXES`."""
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


class Base(DeclarativeBase):
    """Base class of every model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
