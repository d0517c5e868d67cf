"""``songs.available``: songs that are never recommended (placeholders, takedowns).

A song with ``available`` false still trains models (its plays are real signal) and still
works as a seed, but no answer returns it. Every server reads the ids of such songs every few
seconds (``SELECT id FROM songs WHERE NOT available``); a partial index holding only them
keeps that an index read on any catalog size (SQLite 3.8+ and PostgreSQL).

Songs already imported from Yes.com (a source with an import run of kind ``yes``) that are
placeholders get ``available`` false, as the importer now marks them: title ``MG_DELETED``,
or both title and artist empty or ``-`` (yes_big has 36, yes_complete 1,797).

Downgrading drops the column, and with it every takedown an operator made with ``songs hide``
(an upgrade marks only the placeholders again): the downgrade logs those songs' ids so that
they can be hidden again.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import logging

import sqlalchemy as sa
from alembic import context, op

log = logging.getLogger("alembic.runtime.migration")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UNAVAILABLE = sa.text("NOT available")
PLACEHOLDER = "(title = 'MG_DELETED' OR (title IN ('', '-') AND artist IN ('', '-')))"
PLACEHOLDERS = (
    "UPDATE songs SET available = false "
    f"WHERE source IN (SELECT source FROM import_runs WHERE kind = 'yes') AND {PLACEHOLDER}"
)


def upgrade() -> None:
    # SQLite commits ALTER TABLE and CREATE INDEX at once (Alembic runs its DDL outside a
    # transaction): an upgrade that failed or was stopped after them left both without the
    # revision, and must run again
    if context.is_offline_mode() or "available" not in {
            c["name"] for c in sa.inspect(op.get_bind()).get_columns("songs")}:
        op.add_column("songs", sa.Column("available", sa.Boolean(), nullable=False,
                                         server_default=sa.true()))
    op.create_index("ix_songs_unavailable", "songs", ["id"], postgresql_where=UNAVAILABLE,
                    sqlite_where=UNAVAILABLE, if_not_exists=True)
    op.execute(PLACEHOLDERS)


def downgrade() -> None:
    hidden = [row[0] for row in op.get_bind().execute(sa.text(
        f"SELECT id FROM songs WHERE NOT available AND NOT {PLACEHOLDER} ORDER BY id"))]
    if hidden:
        shown = " ".join(map(str, hidden[:50])) + (" ..." if len(hidden) > 50 else "")
        log.warning("dropping songs.available: %d song(s) hidden by an operator will be "
                    "recommended again; after an upgrade, hide them again with "
                    "`python -m recsys songs hide %s`", len(hidden), shown)
    op.drop_index("ix_songs_unavailable", table_name="songs")
    # SQLite 3.35+ drops a column in place (no table copy, so no foreign key is disturbed)
    op.drop_column("songs", "available")
