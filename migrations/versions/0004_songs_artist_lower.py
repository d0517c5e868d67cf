"""Index songs on ``lower(artist)`` for the case-insensitive same-artist fallback.

The cold-start fallback matches the seed's artist regardless of case ("CHRIS AND CONRAD" and
"Chris And Conrad" are one artist in the Yes.com catalog). An expression index keeps that
look-up an index search on large catalogs; SQLite (3.9+) and PostgreSQL both support it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_songs_artist_lower", "songs", [sa.text("lower(artist)")])


def downgrade() -> None:
    op.drop_index("ix_songs_artist_lower", table_name="songs")
