"""Song search on SQLite before and after ``songs.search_key`` (migration 0007), same run.

Usage::

    .venv/bin/python bench/search_sqlite.py [--subset yes_complete] [--repeat 20]

Imports the songs of a Yes.com subset (``$RECSYS_YES_DIR`` or ``../shared/data/yes``;
yes_complete: 75,262 songs, no playlists) into a scratch SQLite database under a temporary
directory (deleted afterwards), then times ``/api/songs?q=…&limit=20`` through the app's
in-process test client, mean of ``--repeat`` requests per search and version (interleaved):

* before: the search of 0006 (``lower(title)``/``lower(artist)`` containing the lower-cased
  needle; SQLite's own ``LIKE`` for an ASCII needle, a Python ``lower`` per row and column
  for any other), reproduced here on the same database;
* after: the code's search (``search_key LIKE`` of the folded needle).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import yes_dir  # noqa: E402
from sqlalchemy import event, func, or_, select  # noqa: E402

import recsys.api.queries as queries  # noqa: E402
from recsys.db import migrate  # noqa: E402
from recsys.db.models import Song  # noqa: E402
from recsys.db.session import make_engine  # noqa: E402
from recsys.ingest import import_yes  # noqa: E402

SEARCHES = ("love", "zz", "the", "beyonce", "björk", "beyoncé")


def _old_contains(column, needle: str):
    if needle.isascii():
        return column.contains(needle, autoescape=True)
    return func.recsys_lower(column).contains(needle, autoescape=True)


def old_search_songs(session, q, source, external_id, limit, offset):
    """``search_songs`` as of migration 0006 (SQLite branch of ``contains_ci``)."""
    conditions = []
    if q:
        needle = q.lower()
        conditions.append(or_(_old_contains(Song.title, needle),
                              _old_contains(Song.artist, needle)))
    total = session.scalar(select(func.count()).select_from(Song).where(*conditions)) or 0
    rows = session.scalars(
        select(Song).where(*conditions).order_by(Song.id).limit(limit).offset(offset))
    return [song.to_dict() for song in rows], int(total)


def _request(client, q: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    total = client.get("/api/songs", query_string={"q": q, "limit": 20}).get_json()["total"]
    return total, time.perf_counter() - t0


def timings(client, repeat: int) -> dict[str, dict[str, tuple[int, float]]]:
    """Per search, before and after: (total, mean seconds), requests interleaved (before,
    after, before, ...) so that a busy machine slows both alike."""
    searches = {"before": old_search_songs, "after": queries.search_songs}
    out: dict[str, dict[str, tuple[int, float]]] = {}
    try:
        for q in SEARCHES:
            times: dict[str, list[float]] = {k: [] for k in searches}
            totals = {}
            for n in range(repeat + 1):  # the first round warms up
                for name, search in searches.items():
                    queries.search_songs = search
                    totals[name], seconds = _request(client, q)
                    if n:
                        times[name].append(seconds)
            out[q] = {k: (totals[k], statistics.mean(v)) for k, v in times.items()}
    finally:
        queries.search_songs = searches["after"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="yes_complete")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    from recsys import create_app
    from recsys.config import TestConfig
    from recsys.extensions import db

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        engine = make_engine(url)
        result = import_yes(engine, yes_dir() / args.subset, args.subset, progress=False)
        engine.dispose()
        app = create_app(TestConfig(DATABASE_URL=url, VAR_DIR=f"{tmp}/var",
                                    MODEL_DIR=f"{tmp}/var/models"))
        with app.app_context():  # the Unicode lower the old search registered
            event.listen(db.engine, "connect", lambda conn, _rec: conn.create_function(
                "recsys_lower", 1, lambda v: None if v is None else v.lower(),
                deterministic=True))
            db.engine.dispose()
        found = timings(app.test_client(), args.repeat)
    print(f"{args.subset}: {result.songs_added:,} songs; /api/songs?q=…&limit=20, "
          f"mean of {args.repeat}\n")
    print("| search | matches before | matches after | before (ms) | after (ms) |")
    print("|---|---:|---:|---:|---:|")
    for q in SEARCHES:
        (n0, t0), (n1, t1) = found[q]["before"], found[q]["after"]
        print(f"| `{q}` | {n0:,} | {n1:,} | {t0 * 1000:.0f} | {t1 * 1000:.0f} |")


if __name__ == "__main__":
    main()
