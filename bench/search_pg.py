"""Song search on PostgreSQL with and without the trigram index (migration 0007).

Usage (a scratch database you can fill; it is migrated first, like ``db upgrade``)::

    .venv/bin/python bench/search_pg.py \
        --database-url postgresql://postgres@127.0.0.1:5432/scratch [--songs 1000000]

Adds ``--songs`` synthetic songs (source ``bench-search``, once), then times
``recsys.api.queries.search_songs`` (the API's and the dashboard's search: total count + first
page of 20) for a few searches, first with the trigram index on ``search_key`` dropped, then
re-created, best of 3 each, in the same run. The database keeps the index afterwards.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from recsys.api.queries import search_songs  # noqa: E402
from recsys.db import migrate  # noqa: E402
from recsys.db.session import make_engine, make_session_factory  # noqa: E402

SEARCHES = ("abc1", "artist 4999", "zzzz", "title")
INDEX = "ix_songs_search_key_trgm"


def timings(factory) -> dict[str, tuple[int, float]]:
    out = {}
    for q in SEARCHES:
        best, total = float("inf"), 0
        for _ in range(3):
            with factory() as session:
                t0 = time.perf_counter()
                total = search_songs(session, q, None, None, 20, 0)[1]
                best = min(best, time.perf_counter() - t0)
        out[q] = (total, best)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--songs", type=int, default=1_000_000)
    args = ap.parse_args()
    migrate.upgrade(args.database_url)  # an empty scratch database has no songs table
    engine = make_engine(args.database_url)
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM songs WHERE source = 'bench-search'"))
        if have.scalar() < args.songs:
            conn.execute(text(
                "INSERT INTO songs (source, external_id, title, artist, search_key, created_at) "
                "SELECT 'bench-search', i::text, 'Title ' || t, 'Artist ' || a, "
                "'title ' || t || chr(31) || 'artist ' || a, now() "  # = song_search_key
                "FROM generate_series(1, :n) i, md5(i::text) t, CAST(i % 50000 AS text) a"),
                {"n": args.songs})
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        conn.execute(text(f"DROP INDEX IF EXISTS {INDEX}"))
        conn.execute(text("ANALYZE songs"))
    factory = make_session_factory(engine)
    without = timings(factory)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text(f"CREATE INDEX {INDEX} ON songs USING gin "
                          "(search_key gin_trgm_ops)"))
        conn.execute(text("ANALYZE songs"))
    build = time.perf_counter() - t0
    with_ix = timings(factory)
    print("| search | matches | without index (ms) | with the trigram index (ms) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for q in SEARCHES:
        (n, a), (_, b) = without[q], with_ix[q]
        print(f"| `{q}` | {n:,} | {a * 1000:.0f} | {b * 1000:.0f} | {a / b:.1f}× |")
    print(f"\nindex build: {build:.1f} s for {args.songs:,} songs")


if __name__ == "__main__":
    main()
