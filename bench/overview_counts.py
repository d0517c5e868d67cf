"""The dashboard overview's counts on large PostgreSQL catalogs: exact ``count(*)`` against
the planner's estimates (recsys.db.counts), side by side in one run.

    .venv/bin/python bench/overview_counts.py --items 6000000 24000000 --limits 200000 1000000
    .venv/bin/python bench/overview_counts.py --items 12000000 --sources 20

For each size a fresh database on a throw-away server gets songs, playlists (two sources,
90% / 10%, or ``--sources N`` of equal size, and one more of 50 playlists) and items of 6
songs each, written by
``generate_series`` (no real data), then ``ANALYZE``; ``data_counts`` runs ``--repeats`` times
with every table counted and as many times with each ``--limits`` value of
``EXACT_BELOW`` (default: the committed one), alternating. Results are
printed as a Markdown table (docs/benchmarks.md §16).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._fresh_db import fresh_databases  # noqa: E402
from recsys.admin.queries import data_counts  # noqa: E402
from recsys.db import counts  # noqa: E402
from recsys.db.session import make_engine  # noqa: E402

FILL = """
INSERT INTO songs (source, external_id, title, artist, available, search_key, created_at)
  SELECT {source}, g::text, 't' || g, 'a', true, 't a', now()
  FROM generate_series(1, :songs) g;
INSERT INTO playlists (source, external_id, created_at)
  SELECT CASE WHEN g <= 50 THEN 'c' ELSE {source} END, g::text, now()
  FROM generate_series(1, :playlists) g;
INSERT INTO playlist_items (playlist_id, position, song_id)
  SELECT p, k, 1 + (p::bigint * 7919 + k * 104729) % :songs
  FROM generate_series(1, :playlists) p, generate_series(0, 5) k;
"""
#: The source of row ``g``: 90% / 10% in two, or ``:sources`` of equal size.
TWO_SOURCES = "CASE WHEN g % 10 = 0 THEN 'b' ELSE 'a' END"
N_SOURCES = "'s' || (g % :sources)"


def timed(session: Session, limit: float) -> tuple[float, dict]:
    counts.EXACT_BELOW = limit
    started = time.perf_counter()
    got = data_counts(session)
    return (time.perf_counter() - started) * 1000, got


def measure(url: str, items: int, limits: list[int], repeats: int, sources: int = 0) -> dict:
    playlists, songs = items // 6, max(items // 24, 1000)
    engine = make_engine(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        fill = FILL.replace("{source}", N_SOURCES if sources else TWO_SOURCES)
        for statement in fill.strip().split(";\n"):
            conn.execute(text(statement), {"songs": songs, "playlists": playlists,
                                           "sources": sources})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    print(f"{items:,} items written and analysed in {time.perf_counter() - started:.0f} s",
          file=sys.stderr)
    default = counts.EXACT_BELOW
    runs: dict[float, list[float]] = {limit: [] for limit in [float("inf"), *limits]}
    got: dict[float, dict] = {}
    with Session(engine) as session:
        timed(session, float("inf"))  # warm the cache for every run
        for _ in range(repeats):
            for limit in runs:  # side by side, alternating
                ms, got[limit] = timed(session, limit)
                runs[limit].append(ms)
    counts.EXACT_BELOW = default
    engine.dispose()
    exact = got[float("inf")]
    out = {"items": items, "exact": statistics.median(runs[float("inf")]), "limits": []}
    for limit in limits:
        error = max(abs(got[limit][k] - exact[k]) / max(exact[k], 1)
                    for k in ("songs", "playlists", "items"))
        out["limits"].append({"limit": limit, "ms": statistics.median(runs[limit]),
                              "error": error, "approximate": ", ".join(got[limit]["approximate"])})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, nargs="+", default=[6_000_000])
    parser.add_argument("--limits", type=int, nargs="+", default=[counts.EXACT_BELOW],
                        help="EXACT_BELOW values to compare with counting everything")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sources", type=int, default=0,
                        help="spread songs and playlists over this many equal sources "
                        "(default: two, 90%% / 10%%)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, fresh_databases(Path(tmp), True) as dbs:
        for items in args.items:
            rows.append(measure(dbs["postgresql"](), items, args.limits, args.repeats,
                                args.sources))
    print("| items | exact counts (ms) | estimated from | with estimates (ms) | ratio "
          "| largest error | estimated |")
    print("|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        for x in r["limits"]:
            print(f"| {r['items']:,} | {r['exact']:.0f} | {x['limit']:,} rows | {x['ms']:.0f} | "
                  f"{r['exact'] / x['ms']:.1f}× | {x['error']:.1%} | {x['approximate']} |")


if __name__ == "__main__":
    main()
