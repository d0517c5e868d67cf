"""``songs.search_key``: accent- and case-insensitive song search on both databases.

``/api/songs?q=`` and the dashboard's search matched ``lower(title)`` or ``lower(artist)``:
"beyonce" did not find "Beyoncé", and on SQLite a needle with non-ASCII letters called a
Python ``lower`` per row (≈290 ms on 75,000 songs). The new column holds title and artist
folded by :func:`recsys.db.search_key.song_search_key` (case folding, accents removed,
whitespace collapsed; the two parts apart by a separator no needle can contain); a search
folds its needle the same way and matches ``search_key LIKE '%needle%'``, natively on both
databases.

Upgrade: the column is added NOT NULL with the server default ``''`` (a computed key is
never empty: it always holds the separator), then every song with an empty key gets its key,
in batches of ``recsys.db.search_key.BATCH`` songs in id order (progress logged;
:func:`recsys.db.search_key.fill_empty_keys`, which the nightly job's recovery also runs for
songs a release not knowing the column inserts meanwhile), so a large catalog never sits in
memory. An interrupted upgrade can simply run again: the column may already be there (SQLite's
``ALTER TABLE`` is not transactional; PostgreSQL commits it before the backfill) and only keys
still empty are computed. PostgreSQL:
the trigram indexes of 0005 on ``lower(title)``/``lower(artist)`` served only the search and
are dropped (before the backfill, which then does not maintain them); a GIN trigram index on
``search_key`` replaces them when ``pg_trgm`` is available, with the same handling of its
absence as 0005 (a warning; a DBA can ``CREATE EXTENSION pg_trgm`` and ``db downgrade 0006 &&
db upgrade``).

Locks (PostgreSQL): the migration's transaction (the column, the dropped indexes, the
extension, and the migrations before this one) is committed before the backfill, so
``ALTER TABLE``'s ACCESS EXCLUSIVE lock on ``songs`` is held for milliseconds, not for the
backfill (which blocked every reader of ``songs`` for ~45 s per million songs). Then, in
Alembic's ``autocommit_block``, each batch is one ``UPDATE`` committed on its own (readers never
wait; a writer of the same rows waits for one batch at most), the index is built with
``CREATE INDEX CONCURRENTLY`` (blocking neither reads nor writes; an INVALID index left by an
interrupted build is dropped and built again on the next run) and ``songs`` is analyzed; the
revision is recorded after that, in a new transaction. SQLite keeps the whole migration in one
transaction (one writer anyway; its readers are not blocked).
The backfill rewrites every row: autovacuum reclaims the old versions (or ``VACUUM songs``).
``ix_songs_artist_lower`` (0004) stays: the cold-start fallback uses it.

Downgrade: drops the index and the column; PostgreSQL gets the 0005 indexes back when
``pg_trgm`` is installed, built first and concurrently (as the upgrade builds its index; an
interrupted downgrade runs again the same way), so that the column's brief ACCESS EXCLUSIVE
lock is all readers and writers of ``songs`` may wait for.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import logging

import sqlalchemy as sa
from alembic import context, op

from recsys.db.search_key import fill_empty_keys

log = logging.getLogger("alembic.runtime.migration")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEX = "ix_songs_search_key_trgm"
OLD_INDEXES = {"title": "ix_songs_title_trgm", "artist": "ix_songs_artist_trgm"}  # 0005


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("0007 computes songs.search_key in Python from the rows: run it on "
                           "the database (python -m recsys db upgrade), not as SQL")
    bind = op.get_bind()
    if "search_key" not in {c["name"] for c in sa.inspect(bind).get_columns("songs")}:
        op.add_column("songs", sa.Column("search_key", sa.Text(), nullable=False,
                                         server_default=""))
    if bind.dialect.name != "postgresql":
        backfill(bind)  # SQLite has one writer anyway: all in the migration's transaction
        return
    for name in OLD_INDEXES.values():
        op.execute(f"DROP INDEX IF EXISTS {name}")
    trigram = _trigram_extension(bind)
    # commit the column (ALTER TABLE's ACCESS EXCLUSIVE lock on songs ends here), then each
    # batch and the index in their own transactions: readers of songs never wait for them
    with op.get_context().autocommit_block():
        backfill(bind)
        if trigram:
            _create_index_concurrently(bind)
        op.execute("ANALYZE songs")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        # 0005's indexes back first, each built concurrently outside any transaction: built
        # after dropping the column, in the transaction that holds its ACCESS EXCLUSIVE lock,
        # they kept every reader and writer of songs waiting (24 s at 1,000,000 songs)
        with op.get_context().autocommit_block():
            for column, name in OLD_INDEXES.items():
                _create_index_concurrently(bind, name, f"lower({column}) gin_trgm_ops")
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    # SQLite 3.35+ drops a column in place (no table copy, so no foreign key is disturbed)
    op.drop_column("songs", "search_key")


def _trigram_extension(bind: sa.Connection) -> bool:
    """Create ``pg_trgm`` if needed and allowed (as 0005); False, with a warning, if not."""
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): the song search stays unindexed",
                    str(exc.orig).strip().splitlines()[0])
        return False
    return True


def _create_index_concurrently(bind: sa.Connection, name: str = INDEX,
                               key: str = "search_key gin_trgm_ops") -> None:
    """A GIN index ``name`` on ``songs`` (``key``: its column and operator class), built
    without blocking reads or writes (outside any transaction). A build that was interrupted
    leaves an INVALID index of that name: it is dropped and built again."""
    valid = bind.execute(sa.text(
        "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name}).scalar()
    if valid is False:
        log.warning("%s: dropping the invalid index an interrupted migration left", name)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON songs USING gin ({key})")


def backfill(bind: sa.Connection, batch: int | None = None) -> int:
    """Compute the key of every song whose key is empty; returns how many were written
    (:func:`recsys.db.search_key.fill_empty_keys`, which the nightly job's recovery also runs
    for songs a release not knowing the column inserted meanwhile)."""
    return fill_empty_keys(bind, batch, log)
