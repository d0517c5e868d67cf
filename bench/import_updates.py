"""Cost of re-sent rows in an import: the comparison on a no-op re-import, ``--update`` with
10,000 re-titled songs and with re-ordered playlists, on SQLite and PostgreSQL; on PostgreSQL
also the two ways to write the songs' updates (``executemany`` vs a temporary table, ``COPY``
and one ``UPDATE ... FROM``).

Usage::

    .venv/bin/python bench/import_updates.py [--data ../shared/data/yes] [--retitle 10000]
        [--runs 3] [--no-postgres]

Scratch copies of yes_complete's songs (``song_hash.txt`` with ``--retitle`` titles changed)
and of yes_big (every 10th playlist of ``train.txt`` reversed: same header counts) go to a
temporary directory; nothing is written into the repository. Prints a markdown table.
"""

from __future__ import annotations

import argparse
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
from recsys.ingest import import_yes, updates, writer  # noqa: E402


def scratch_copies(data: Path, retitle: int, tmp: Path) -> dict[str, Path]:
    """yes_complete (songs) with ``retitle`` titles changed; yes_big with reversed playlists."""
    out = {}
    for subset in ("yes_complete", "yes_big"):
        target = tmp / subset
        target.mkdir()
        for name in ("song_hash.txt", "tags.txt", "tag_hash.txt", "train.txt"):
            if (data / subset / name).exists():
                shutil.copy(data / subset / name, target / name)
        out[subset] = target
    edited = tmp / "edited"
    shutil.copytree(out["yes_complete"], edited / "yes_complete")
    lines = (edited / "yes_complete" / "song_hash.txt").read_text().split("\n")
    step = max(1, len(lines) // retitle)
    changed = 0
    for i in range(0, len(lines), step):
        parts = lines[i].split("\t")
        if len(parts) == 3 and changed < retitle:
            parts[1] += " (Remastered)"
            lines[i] = "\t".join(parts)
            changed += 1
    (edited / "yes_complete" / "song_hash.txt").write_text("\n".join(lines))
    shutil.copytree(out["yes_big"], edited / "yes_big")
    lines = (edited / "yes_big" / "train.txt").read_text().split("\n")
    for i in range(2, len(lines), 10):
        if lines[i].strip():
            lines[i] = " ".join(reversed(lines[i].split())) + " "
    (edited / "yes_big" / "train.txt").write_text("\n".join(lines))
    out["yes_complete_edited"] = edited / "yes_complete"
    out["yes_big_edited"] = edited / "yes_big"
    return out


def temp_table_apply(conn, changes) -> None:
    """The alternative for PostgreSQL: COPY the new values into a temporary table, one
    ``UPDATE ... FROM``."""
    updates.execute_many(conn, "UPDATE playlists SET name = ? WHERE id = ?", changes.name_rows)
    if not changes.song_rows:
        return
    conn.exec_driver_sql("CREATE TEMP TABLE song_updates (title text, artist text, "
                         "search_key text, id integer) ON COMMIT DROP")
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy("COPY song_updates FROM STDIN") as copy:
        for row in changes.song_rows:
            copy.write_row(row)
    cursor.close()
    conn.exec_driver_sql("UPDATE songs s SET title = u.title, artist = u.artist, "
                         "search_key = u.search_key FROM song_updates u WHERE s.id = u.id")


def timed_apply(apply, spent: list[float]):
    def wrapper(conn, changes):
        started = time.perf_counter()
        apply(conn, changes)
        spent.append(time.perf_counter() - started)
    return wrapper


def one_run(url: str, dirs: dict[str, Path], method: str) -> dict[str, float]:
    engine = make_engine(url)
    real = writer.apply_song_changes
    spent: list[float] = []
    try:
        import_yes(engine, dirs["yes_complete"], "yes_complete", progress=False)
        import_yes(engine, dirs["yes_big"], "yes_big", progress=False)
        row: dict[str, float] = {}
        started = time.perf_counter()
        import_yes(engine, dirs["yes_big"], "yes_big", progress=False)
        row["noop_big"] = time.perf_counter() - started
        apply = real if method == "executemany" else temp_table_apply
        writer.apply_song_changes = timed_apply(apply, spent)
        started = time.perf_counter()
        result = import_yes(engine, dirs["yes_complete_edited"], "yes_complete",
                            progress=False, update=True)
        row["retitle"] = time.perf_counter() - started
        row["retitle_apply"] = spent[-1]
        row["songs_updated"] = result.songs_updated
        started = time.perf_counter()
        again = import_yes(engine, dirs["yes_complete_edited"], "yes_complete",
                           progress=False, update=True)
        row["retitle_again"] = time.perf_counter() - started
        assert again.songs_updated == 0
        started = time.perf_counter()
        result = import_yes(engine, dirs["yes_big_edited"], "yes_big", progress=False,
                            update=True)
        row["replace"] = time.perf_counter() - started
        row["playlists_replaced"] = result.playlists_replaced
        row["items_replaced"] = result.items_replaced
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM songs WHERE title LIKE "
                                  "'% (Remastered)'")).scalar()
        assert n == row["songs_updated"], (n, row)
    finally:
        writer.apply_song_changes = real
        engine.dispose()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "yes")
    parser.add_argument("--retitle", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-updates-"))
    try:
        dirs = scratch_copies(args.data, args.retitle, tmp)
        cases = [("sqlite", "executemany")]
        if not args.no_postgres:
            cases += [("postgresql", "executemany"), ("postgresql", "temp table")]
        with fresh_databases(tmp, not args.no_postgres) as new_db:
            print(f"load average at start: {os.getloadavg()}")
            rows = []
            for backend, method in cases:
                runs = [one_run(new_db[backend](), dirs, method) for _ in range(args.runs)]
                best = {k: min(r[k] for r in runs) for k in runs[0]}
                rows.append((backend, method, best))
            print(f"load average at end: {os.getloadavg()}")
        print("| backend | songs' update | yes_big re-import, unchanged (s) | "
              "yes_complete, songs re-titled --update (s) | of which the UPDATE (s) | "
              "same file again (s) | yes_big, playlists reversed --update (s) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for backend, method, r in rows:
            print(f"| {backend} | {method} | {r['noop_big']:.2f} | {r['retitle']:.2f} "
                  f"({r['songs_updated']:,.0f} songs) | {r['retitle_apply']:.3f} | "
                  f"{r['retitle_again']:.2f} | {r['replace']:.2f} "
                  f"({r['playlists_replaced']:,.0f} playlists, {r['items_replaced']:,.0f} "
                  "items) |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
