"""CPU cost of the client-side database deadline (``recsys.db.deadline``), on vs off, one run.

Usage::

    .venv/bin/python bench/db_deadline.py [--database-url URL] [--requests 1000] [--rounds 5]

Without ``--database-url`` a throw-away PostgreSQL server is started (``tests/pgserver.py``).
The database is migrated and gets ``--songs`` synthetic songs (once). Three apps in this
process on the same database, ``DB_CLIENT_TIMEOUT_SECONDS`` 7 (on), 0 (off) and 0 again (off2:
an A/A comparison that shows the noise), take turns every 25 requests, each first in turn,
``--requests`` each per round: ``GET /api/songs?q=...`` (a search: count and first page),
then ``GET /api/songs/<id>`` (one song and its tags), through the Flask test client; each
request's pre-ping, ``SET LOCAL statement_timeout``, queries and rollback are guarded DBAPI
calls. Printed: CPU microseconds (``process_time``: the watchdog thread is included, the
server is not) and wall milliseconds per request, best and median of the rounds, the on/off
and off2/off CPU ratios of each round; the guarded calls per request and what a guard adds
to each in a real request; then one guarded call against a no-op cursor vs the bare dialect
method (hot caches), in nanoseconds.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

SEARCHES = ("artist 4999", "artist 17", "title 3f", "zzzz")
KINDS = ("search", "song")
SONG_IDS = 10_000  # song pages ask for ids 1..SONG_IDS


def fill(url: str, songs: int) -> None:
    from recsys.db import migrate
    from recsys.db.session import make_engine

    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.execute(text("SELECT count(*) FROM songs")).scalar() < songs:
            conn.execute(text(
                "INSERT INTO songs (source, external_id, title, artist, created_at) "
                "SELECT 'bench-deadline', i::text, 'Title ' || md5(i::text), "
                "'Artist ' || (i % 5000), now() FROM generate_series(1, :n) i"), {"n": songs})
        conn.execute(text("ANALYZE songs"))
    engine.dispose()


def make_app(url: str, seconds: float, var: Path):
    from recsys import create_app
    from recsys.config import TestConfig

    return create_app(TestConfig(DATABASE_URL=url, VAR_DIR=str(var), MODEL_DIR=str(var / "m"),
                                 DB_CLIENT_TIMEOUT_SECONDS=seconds))


def paths(kind: str, n: int) -> list[str]:
    if kind == "search":
        return [f"/api/songs?q={SEARCHES[i % len(SEARCHES)]}&limit=20" for i in range(n)]
    return [f"/api/songs/{1 + i * 7919 % SONG_IDS}" for i in range(n)]


def one_round(clients: dict, kind: str, n: int, chunk: int = 25) -> dict[str, tuple]:
    """``n`` requests per app, in chunks that alternate between the apps (slow drifts of a
    shared machine hit both alike): CPU µs and wall ms per request, per app."""
    todo, spent = paths(kind, n), {name: [0.0, 0.0] for name in clients}
    for i, start in enumerate(range(0, n, chunk)):
        names = list(clients)
        for name in names[i % len(names):] + names[:i % len(names)]:  # each goes first in turn
            client = clients[name]
            cpu, wall = time.process_time(), time.perf_counter()
            for path in todo[start:start + chunk]:
                assert client.get(path).status_code == 200
            spent[name][0] += time.process_time() - cpu
            spent[name][1] += time.perf_counter() - wall
    return {name: (c / n * 1e6, w / n * 1e3) for name, (c, w) in spent.items()}


def in_request_cost(app, client, kind: str, n: int = 1000) -> tuple[float, float]:
    """Guarded calls per request, and µs a guard adds to each (wall, timed around the guarded
    call and around the call it wraps, in real requests: cache misses included)."""
    from flask import has_request_context

    from recsys.db import deadline
    from recsys.extensions import db

    with app.app_context():
        dialect = db.engine.dialect
    outer, inner, calls = [0.0], [0.0], [0]

    def timed(call, total, count=False):
        def run(*args, **kwargs):
            calls[0] += count
            start = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                total[0] += time.perf_counter() - start
        return run

    saved = {name: vars(dialect)[name] for name in deadline.GUARDED}
    for name in deadline.GUARDED:
        bare = getattr(type(dialect), name).__get__(dialect)
        guarded = deadline._guarded(timed(bare, inner), name, 7, has_request_context, None)
        setattr(dialect, name, timed(guarded, outer, count=True))
    try:
        one_round({"on": client}, kind, n)
    finally:
        for name, guarded in saved.items():  # the app's own guards again
            setattr(dialect, name, guarded)
    return calls[0] / n, (outer[0] - inner[0]) / calls[0] * 1e6


def per_call_ns(engine) -> tuple[float, float]:
    """A guarded ``do_execute`` (arm + disarm) vs the dialect's own, on a no-op cursor."""
    left, right = socket.socketpair()

    class Conn:
        def fileno(self) -> int:
            return left.fileno()

    class Cursor:
        connection = Conn()

        def execute(self, *args) -> None:
            pass

    dialect, cursor, n = engine.dialect, Cursor(), 200_000
    bare = type(dialect).do_execute
    guarded = min(timeit.repeat(lambda: dialect.do_execute(cursor, "SELECT 1", (), None),
                                number=n, repeat=5))
    plain = min(timeit.repeat(lambda: bare(dialect, cursor, "SELECT 1", (), None),
                              number=n, repeat=5))
    left.close()
    right.close()
    return guarded / n * 1e9, plain / n * 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url")
    ap.add_argument("--songs", type=int, default=100_000)  # at least SONG_IDS
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.songs < SONG_IDS:  # else the song pages answer 404 and the run stops
        ap.error(f"--songs must be at least {SONG_IDS:,} (the song pages ask for ids "
                 f"1..{SONG_IDS:,})")
    server = None
    url = args.database_url
    if url is None:
        from tests.pgserver import PostgresServer

        server = PostgresServer().start()
        url = server.url()
    try:
        fill(url, args.songs)
        var = Path(tempfile.mkdtemp(prefix="bench-deadline-"))
        apps = {"on": make_app(url, 7, var), "off": make_app(url, 0, var),
                "off2": make_app(url, 0, var)}  # off2/off: the noise of an A/A comparison
        clients = {name: app.test_client() for name, app in apps.items()}
        for kind in KINDS:  # warm-up: pools, statement caches
            one_round(clients, kind, 100)
        runs = {(kind, name): [] for kind in KINDS for name in clients}
        for _ in range(args.rounds):
            for kind in KINDS:
                for name, row in one_round(clients, kind, args.requests).items():
                    runs[kind, name].append(row)
        print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.requests} "
              "requests per app, taking turns every 25")
        print("| request | deadline | CPU µs/req best | CPU median | wall ms/req best | "
              "wall median |")
        print("|---|---|---:|---:|---:|---:|")
        for (kind, name), rows in runs.items():
            cpu, wall = [r[0] for r in rows], [r[1] for r in rows]
            print(f"| {kind} | {name} | {min(cpu):.0f} | {statistics.median(cpu):.0f} | "
                  f"{min(wall):.2f} | {statistics.median(wall):.2f} |")
        for kind in KINDS:
            off = [r[0] for r in runs[kind, "off"]]
            for name in ("on", "off2"):
                cpu = [r[0] for r in runs[kind, name]]
                ratios = sorted(a / b for a, b in zip(cpu, off, strict=True))
                print(f"{kind}: CPU {name}/off per round "
                      f"{', '.join(f'{r:.3f}' for r in ratios)}; median "
                      f"{statistics.median(ratios):.3f}, all rounds {sum(cpu) / sum(off):.3f}")
        for kind in KINDS:
            calls, cost = in_request_cost(apps["on"], clients["on"], kind)
            print(f"{kind}: {calls:g} guarded calls per request, +{cost:.1f} µs each "
                  f"(+{calls * cost:.0f} µs per request)")
        with apps["on"].test_request_context():
            from recsys.extensions import db

            guarded, plain = per_call_ns(db.engine)
        print(f"one call: guarded {guarded:.0f} ns, bare {plain:.0f} ns "
              f"(+{guarded - plain:.0f} ns)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
