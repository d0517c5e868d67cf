"""Migration 0007 on a large catalog: how long the ``songs.search_key`` backfill takes.

Usage (a scratch database: it is downgraded to 0006 and filled)::

    .venv/bin/python bench/search_key_backfill.py --database-url URL [--songs 1000000]

Migrates the database to 0006, adds ``--songs`` synthetic songs (source ``bench-backfill``,
half of them with accented titles and artists, e.g. "Café 12 ø" by "Mötley 12"), then times
``db upgrade`` to 0007 (its progress lines are printed) and ``db downgrade 0006``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from recsys.db import migrate  # noqa: E402
from recsys.db.session import make_engine  # noqa: E402
from recsys.ingest.fastinsert import bulk_insert  # noqa: E402


def rows(n: int):
    for i in range(n):
        if i % 2:
            yield "bench-backfill", str(i), f"Café {i} ø", f"Mötley {i % 50000}"
        else:
            yield "bench-backfill", str(i), f"Title {i}", f"Artist {i % 50000}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--songs", type=int, default=1_000_000)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO)
    migrate.upgrade(args.database_url, "0006")
    engine = make_engine(args.database_url)
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM songs")).scalar()
        if have < args.songs:
            conn.execute(text("DELETE FROM songs WHERE source = 'bench-backfill'"))
            bulk_insert(conn, "songs", ("source", "external_id", "title", "artist"),
                        rows(args.songs), None)
        total = conn.execute(text("SELECT count(*) FROM songs")).scalar()
    engine.dispose()
    t0 = time.perf_counter()
    migrate.upgrade(args.database_url)
    up = time.perf_counter() - t0
    t0 = time.perf_counter()
    migrate.downgrade(args.database_url, "0006")
    down = time.perf_counter() - t0
    print(f"{total:,} songs: upgrade 0006 -> 0007 {up:.1f} s, downgrade to 0006 {down:.1f} s")


if __name__ == "__main__":
    main()
