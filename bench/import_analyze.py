"""``ANALYZE`` after a large import (PostgreSQL): what it costs next to the import, and what
stale statistics do to the overview's per-source estimates meanwhile.

Usage::

    .venv/bin/python bench/import_analyze.py                       # the three cases below
    .venv/bin/python bench/import_analyze.py --base-playlists 1000000 --import-playlists 500000

On a throw-away server, each case gets a fresh database with autovacuum off for the catalog
tables (the state before autovacuum gets to them), imports through ``write_catalog`` with the
post-commit refresh switched off, reads the planner's estimate of every source's songs and
playlists (:func:`recsys.db.counts.where_estimate`) and times the overview's counts
(``data_counts``), then runs :func:`recsys.ingest.analyze.refresh_statistics` (timed per
table, with the committed thresholds) and reads them again. Cases:

1. yes_big into an empty database;
2. yes_big beside a synthetic source ``a`` of ``--base-playlists`` playlists of 6 items
   (written by ``generate_series`` and analysed), below the thresholds for two tables;
3. a synthetic source ``b`` of ``--import-playlists`` playlists of 6 items imported beside
   that same ``a``;
4. SQLite, yes_big into an empty database: the import, a plain ``ANALYZE`` (which the code
   does not run there) and the overview's counts before and after it.
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

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

from _fresh_db import fresh_databases  # noqa: E402
from _yesdata import yes_dir  # noqa: E402

from recsys.admin.queries import data_counts  # noqa: E402
from recsys.db import counts  # noqa: E402
from recsys.db.models import Playlist, Song  # noqa: E402
from recsys.db.session import make_engine  # noqa: E402
from recsys.ingest import analyze, writer  # noqa: E402
from recsys.ingest.model import ParsedCatalog, PlaylistRecord, SongRecord  # noqa: E402
from recsys.ingest.yes import parse_yes_dir  # noqa: E402

TABLES = ("songs", "playlists", "playlist_items", "song_tags", "tags")
FILL = """
INSERT INTO songs (source, external_id, title, artist, available, search_key, created_at)
  SELECT 'a', g::text, 't' || g, 'a', true, 't a', now() FROM generate_series(1, :songs) g;
INSERT INTO playlists (source, external_id, created_at)
  SELECT 'a', g::text, now() FROM generate_series(1, :playlists) g;
INSERT INTO playlist_items (playlist_id, position, song_id)
  SELECT p, k, 1 + (p::bigint * 7919 + k * 104729) % :songs
  FROM generate_series(1, :playlists) p, generate_series(0, 5) k
"""


def synthetic(source: str, playlists: int) -> ParsedCatalog:
    """``playlists`` playlists of 6 items over ``playlists // 4`` songs."""
    n = max(playlists // 4, 100)
    names = [str(i) for i in range(n)]
    songs = {name: SongRecord(name, f"t{name}", f"a{int(name) % 997}") for name in names}
    lists = [PlaylistRecord(str(p), [names[(p * 7919 + k * 104729) % n] for k in range(6)])
             for p in range(playlists)]
    return ParsedCatalog(source=source, kind="csv", path=None, songs=songs, playlists=lists)


def prepare(url: str, base_playlists: int) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        if base_playlists:
            for statement in FILL.strip().split(";\n"):
                conn.execute(text(statement), {"songs": max(base_playlists // 4, 1000),
                                               "playlists": base_playlists})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in TABLES:
            conn.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
        conn.execute(text("ANALYZE"))
    engine.dispose()


def estimates(engine) -> tuple[dict, float]:
    """Per source: (songs exact, estimated), (playlists exact, estimated); overview ms."""
    out = {}
    with Session(engine) as session:
        for column, name in ((Song.source, "songs"), (Playlist.source, "playlists")):
            table = column.property.parent.local_table.name
            for source, n in session.execute(text(
                    f"SELECT source, count(*) FROM {table} GROUP BY source")).all():
                out.setdefault(source, {})[name] = (n, counts.where_estimate(
                    session, column, source))
        data_counts(session)  # warm
        times = []
        for _ in range(3):
            started = time.perf_counter()
            data_counts(session)
            times.append((time.perf_counter() - started) * 1e3)
    return out, statistics.median(times)


def case(url: str, name: str, catalog: ParsedCatalog) -> dict:
    engine = make_engine(url)
    refresh, writer.refresh_statistics = writer.refresh_statistics, lambda *a: {}
    try:
        result = writer.write_catalog(engine, catalog, progress=False)
    finally:
        writer.refresh_statistics = refresh
    stale, stale_ms = estimates(engine)
    started = time.perf_counter()
    took = analyze.refresh_statistics(engine, result.source, analyze.written_rows(result))
    total = time.perf_counter() - started
    fresh, fresh_ms = estimates(engine)
    engine.dispose()
    return {"case": name, "items": result.items_added, "import_s": result.duration_s,
            "analyze": took, "analyze_s": total, "stale": stale, "fresh": fresh,
            "stale_ms": stale_ms, "fresh_ms": fresh_ms}


def sqlite_case(url: str) -> str:
    engine = make_engine(url)
    result = writer.write_catalog(engine, parse_yes_dir(yes_dir() / "yes_big", "yes_big"),
                                  progress=False)
    _, before = estimates(engine)
    with engine.begin() as conn:
        started = time.perf_counter()
        conn.execute(text("ANALYZE"))
        took = time.perf_counter() - started
    _, after = estimates(engine)
    engine.dispose()
    return (f"4. SQLite, yes_big into an empty database: import {result.duration_s:.2f} s, "
            f"ANALYZE {took:.3f} s ({took / result.duration_s:.1%}), overview {before:.1f} ms "
            f"before it, {after:.1f} ms after")


def _estimate_cell(pair: tuple[int, int]) -> str:
    exact, estimate = pair
    return f"{estimate:,} of {exact:,}"


def report(rows: list[dict]) -> None:
    print("| case | items imported | import | ANALYZE (tables analysed) | ratio | overview "
          "stale → analysed |")
    print("|---|---:|---:|---|---:|---:|")
    for r in rows:
        tables = ", ".join(f"{t} {s:.2f}" for t, s in r["analyze"].items()) or "none"
        print(f"| {r['case']} | {r['items']:,} | {r['import_s']:.1f} s | {r['analyze_s']:.2f} s "
              f"({tables}) | {r['analyze_s'] / r['import_s']:.1%} | {r['stale_ms']:.0f} → "
              f"{r['fresh_ms']:.0f} ms |")
    print("\n| case | source | songs: estimate of exact, stale → analysed | playlists: stale → "
          "analysed |")
    print("|---|---|---|---|")
    for r in rows:
        for source in sorted(r["stale"]):
            cells = [f"{_estimate_cell(r['stale'][source][k])} → "
                     f"{_estimate_cell(r['fresh'][source][k])}" for k in ("songs", "playlists")]
            print(f"| {r['case']} | {source} | {cells[0]} | {cells[1]} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-playlists", type=int, default=1_000_000)
    ap.add_argument("--import-playlists", type=int, default=500_000)
    ap.add_argument("--cases", default="1,2,3,4")
    args = ap.parse_args()
    wanted = set(args.cases.split(","))
    rows, lines = [], []
    with tempfile.TemporaryDirectory() as tmp, fresh_databases(Path(tmp), True) as dbs:
        if "4" in wanted:
            lines.append(sqlite_case(dbs["sqlite"]()))
        yes_big = yes_dir() / "yes_big"
        for number, base, what in (("1", 0, "yes_big"), ("2", args.base_playlists, "yes_big"),
                                   ("3", args.base_playlists, "synthetic")):
            if number not in wanted:
                continue
            url = dbs["postgresql"]()
            started = time.perf_counter()
            prepare(url, base)
            print(f"case {number}: base of {base:,} playlists written and analysed in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
            catalog = parse_yes_dir(yes_big, "yes_big") if what == "yes_big" else \
                synthetic("b", args.import_playlists)
            label = f"{number}. {what} into {base:,} playlists" if base else \
                f"{number}. {what} into an empty database"
            rows.append(case(url, label, catalog))
            print(rows[-1]["case"], rows[-1]["import_s"], rows[-1]["analyze"], file=sys.stderr,
                  flush=True)
    if rows:
        report(rows)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
