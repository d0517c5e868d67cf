"""``import_runs.changes``: what an import changed in rows already present.

Since imports fill in a song's missing title or artist and, with ``--update``, re-title songs
and replace the items of re-sent playlists, an import run records those counts beside what it
added: ``{"songs_filled": n, "songs_updated": n, "playlists_replaced": n, "items_replaced": n,
"playlists_renamed": n}`` (only the non-zero ones; ``{}`` when nothing already present
changed, as for every run before this revision). The dashboard's imports table shows them.

Downgrade drops the column (the counts stay in the import logs).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    # SQLite commits ALTER TABLE at once: a run stopped before the revision was recorded
    # left the column, and must run again
    if context.is_offline_mode() or "changes" not in {
            c["name"] for c in sa.inspect(op.get_bind()).get_columns("import_runs")}:
        op.add_column("import_runs", sa.Column("changes", JSON, nullable=False,
                                               server_default=sa.text("'{}'")))


def downgrade() -> None:
    op.drop_column("import_runs", "changes")
