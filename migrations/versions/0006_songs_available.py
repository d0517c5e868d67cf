"""``songs.available``: songs that are never recommended (placeholders, takedowns).

A song with ``available`` false still trains models (its plays are real signal) and still
works as a seed, but no answer returns it. Every server reads the ids of such songs every few
seconds (``SELECT id FROM songs WHERE NOT available``); a partial index holding only them
keeps that an index read on any catalog size (SQLite 3.8+ and PostgreSQL).

Songs already imported from Yes.com (a source with an import run of kind ``yes``) that are
placeholders get ``available`` false, as the importer now marks them: title ``MG_DELETED``,
or both title and artist empty or ``-`` (yes_big has 36, yes_complete 1,797).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNAVAILABLE = sa.text("NOT available")
PLACEHOLDERS = (
    "UPDATE songs SET available = false "
    "WHERE source IN (SELECT source FROM import_runs WHERE kind = 'yes') "
    "AND (title = 'MG_DELETED' OR (title IN ('', '-') AND artist IN ('', '-')))"
)


def upgrade() -> None:
    op.add_column("songs", sa.Column("available", sa.Boolean(), nullable=False,
                                     server_default=sa.true()))
    op.create_index("ix_songs_unavailable", "songs", ["id"], postgresql_where=UNAVAILABLE,
                    sqlite_where=UNAVAILABLE)
    op.execute(PLACEHOLDERS)


def downgrade() -> None:
    op.drop_index("ix_songs_unavailable", table_name="songs")
    # SQLite 3.35+ drops a column in place (no table copy, so no foreign key is disturbed)
    op.drop_column("songs", "available")
