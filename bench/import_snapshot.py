"""Cost of ``--snapshot`` imports against plain re-imports, on SQLite and PostgreSQL.

Usage::

    .venv/bin/python bench/import_snapshot.py [--data ../shared/data/yes] [--drop 10]
        [--runs 3] [--no-postgres]

yes_big is written as a CSV export into a temporary directory (playlist ids ``pl<line>``,
titles and artists from ``song_hash.txt``), with a second export lacking every ``--drop``-th
playlist. Each run, on a fresh database holding the full export: the full file again as a
plain import (before and after the next step), the full file again as a snapshot (nothing
to delete: the cost of the comparison), and the cut export as a snapshot (deletes the
missing playlists). Best of
``--runs``, end to end through ``import_csv`` (parse included). Nothing is written into the
repository. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _fresh_db import fresh_databases  # noqa: E402
from sqlalchemy import text  # noqa: E402

from recsys.db.session import make_engine  # noqa: E402
from recsys.ingest import import_csv  # noqa: E402
from recsys.ingest.yes import parse_yes_dir  # noqa: E402


def write_exports(data: Path, drop: int, tmp: Path) -> tuple[Path, Path, int]:
    """yes_big as a full CSV export and one without every ``drop``-th playlist."""
    catalog = parse_yes_dir(data / "yes_big", "yes_big")
    full, cut = tmp / "full.csv", tmp / "cut.csv"
    dropped = 0
    with full.open("w", newline="") as f_full, cut.open("w", newline="") as f_cut:
        writers = csv.writer(f_full), csv.writer(f_cut)
        for w in writers:
            w.writerow(["playlist_id", "position", "song_id", "title", "artist"])
        for n, playlist in enumerate(catalog.playlists):
            keep = n % drop != drop - 1
            dropped += not keep
            for pos, sid in enumerate(playlist.songs):
                song = catalog.songs[sid]
                row = [f"pl{playlist.external_id}", pos, sid, song.title, song.artist]
                writers[0].writerow(row)
                if keep:
                    writers[1].writerow(row)
    return full, cut, dropped


def one_run(url: str, full: Path, cut: Path, dropped: int) -> dict[str, float]:
    engine = make_engine(url)
    try:
        import_csv(engine, full, "feed", progress=False)
        row: dict[str, float] = {}
        # the plain re-import runs before and after the no-op snapshot (the better one
        # counts), so neither is favoured by warmer caches
        for name, path, snapshot in (("plain", full, False), ("snapshot_noop", full, True),
                                     ("plain", full, False), ("snapshot_cut", cut, True)):
            started = time.perf_counter()
            result = import_csv(engine, path, "feed", progress=False, snapshot=snapshot)
            row[name] = min(row.get(name, 1e9), time.perf_counter() - started)
        assert result.playlists_deleted == dropped, (result.playlists_deleted, dropped)
        row["items_deleted"] = result.items_deleted
        with engine.connect() as conn:
            left = conn.execute(text("SELECT count(*) FROM playlists")).scalar()
        row["left"] = left
    finally:
        engine.dispose()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "yes")
    parser.add_argument("--drop", type=int, default=10, help="drop every N-th playlist")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-snapshot-"))
    try:
        full, cut, dropped = write_exports(args.data, args.drop, tmp)
        with fresh_databases(tmp, not args.no_postgres) as new_db:
            print(f"load average at start: {os.getloadavg()}")
            rows = []
            for backend, new_url in new_db.items():
                runs = [one_run(new_url(), full, cut, dropped) for _ in range(args.runs)]
                rows.append((backend, {k: min(r[k] for r in runs) for k in runs[0]}))
            print(f"load average at end: {os.getloadavg()}")
        print("| backend | full export again, plain (s) | same as a snapshot (s) | ratio | "
              f"cut export as a snapshot: {dropped:,} playlists deleted (s) | ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for backend, r in rows:
            print(f"| {backend} | {r['plain']:.2f} | {r['snapshot_noop']:.2f} | "
                  f"{r['snapshot_noop'] / r['plain']:.2f} | {r['snapshot_cut']:.2f} "
                  f"({r['items_deleted']:,.0f} items) | {r['snapshot_cut'] / r['plain']:.2f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
