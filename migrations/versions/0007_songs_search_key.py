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
in batches of ``BATCH`` songs in id order (progress logged), so a large catalog never sits in
memory. An interrupted upgrade can simply run again: the column may already be there (SQLite's
``ALTER TABLE`` is not transactional) and only keys still empty are computed. PostgreSQL:
the trigram indexes of 0005 on ``lower(title)``/``lower(artist)`` served only the search and
are dropped (before the backfill, which then does not maintain them); a GIN trigram index on
``search_key`` replaces them when ``pg_trgm`` is available, with the same handling of its
absence as 0005 (a warning; a DBA can ``CREATE EXTENSION pg_trgm`` and ``db downgrade 0006 &&
db upgrade``).
The backfill rewrites every row: autovacuum reclaims the old versions (or ``VACUUM songs``).
``ix_songs_artist_lower`` (0004) stays: the cold-start fallback uses it.

Downgrade: drops the index and the column; PostgreSQL gets the 0005 indexes back when
``pg_trgm`` is installed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import logging
import time

import sqlalchemy as sa
from alembic import context, op

from recsys.db.search_key import song_search_key

log = logging.getLogger("alembic.runtime.migration")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Songs per backfill batch (read, folded in Python, written back by id).
BATCH = 10_000
#: Seconds between progress lines of the backfill.
LOG_EVERY_S = 10.0
INDEX = "ix_songs_search_key_trgm"
OLD_INDEXES = {"title": "ix_songs_title_trgm", "artist": "ix_songs_artist_trgm"}  # 0005


def upgrade() -> None:
    if context.is_offline_mode():
        raise RuntimeError("0007 computes songs.search_key in Python from the rows: run it on "
                           "the database (python -m recsys db upgrade), not as SQL")
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if "search_key" not in {c["name"] for c in sa.inspect(bind).get_columns("songs")}:
        op.add_column("songs", sa.Column("search_key", sa.Text(), nullable=False,
                                         server_default=""))
    if postgres:
        for name in OLD_INDEXES.values():
            op.execute(f"DROP INDEX IF EXISTS {name}")
    backfill(bind)
    if postgres:
        if _trigram_extension(bind):
            op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON songs "
                       "USING gin (search_key gin_trgm_ops)")
        op.execute("ANALYZE songs")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    # SQLite 3.35+ drops a column in place (no table copy, so no foreign key is disturbed)
    op.drop_column("songs", "search_key")
    if bind.dialect.name == "postgresql" and bind.execute(sa.text(
            "SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        for column, name in OLD_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON songs "
                       f"USING gin (lower({column}) gin_trgm_ops)")


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


def backfill(bind: sa.Connection, batch: int = BATCH) -> int:
    """Compute the key of every song whose key is empty; returns how many were written."""
    todo = bind.execute(sa.text("SELECT COUNT(*) FROM songs WHERE search_key = ''")).scalar()
    if not todo:
        return 0
    log.info("songs.search_key: computing the keys of %d songs", todo)
    if bind.dialect.name == "postgresql":  # one statement per batch
        update = sa.text(
            "UPDATE songs SET search_key = v.key FROM unnest(CAST(:ids AS integer[]), "
            "CAST(:keys AS text[])) AS v(id, key) WHERE songs.id = v.id")
    else:
        update = sa.text("UPDATE songs SET search_key = :key WHERE id = :id")
    done, last, t0 = 0, None, time.monotonic()
    logged = t0
    while True:
        # keyset pagination by id (ids may be zero or negative: the first batch is unbounded)
        after, params = ("", {"n": batch}) if last is None else (
            " AND id > :last", {"n": batch, "last": last})
        rows = bind.execute(sa.text(
            f"SELECT id, title, artist FROM songs WHERE search_key = ''{after} "
            "ORDER BY id LIMIT :n"), params).all()
        if not rows:
            break
        keys = [song_search_key(title, artist) for _id, title, artist in rows]
        if bind.dialect.name == "postgresql":
            bind.execute(update, {"ids": [r[0] for r in rows], "keys": keys})
        else:
            bind.execute(update, [{"id": r[0], "key": k} for r, k in zip(rows, keys,
                                                                         strict=True)])
        done += len(rows)
        last = rows[-1][0]
        now = time.monotonic()
        if now - logged >= LOG_EVERY_S:
            log.info("songs.search_key: %d of %d songs (%.0f%%, %.0f s)", done, todo,
                     100 * done / todo, now - t0)
            logged = now
    log.info("songs.search_key: %d songs in %.1f s", done, time.monotonic() - t0)
    return done
