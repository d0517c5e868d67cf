"""In-process cost of ``GET /api/songs/<id>/similar``: Flask test client and the service alone.

Usage::

    RECSYS_VAR_DIR=var/bench/yesbig .venv/bin/python bench/profile_similar.py \
        [--requests 2000] [--profile] [--top 25]

Reports microseconds per request for (1) the full Flask request through the test client and
(2) ``RecommendationService.similar`` called directly, both over the same random song ids of
the current model (best of three rounds); ``--profile`` adds a cProfile listing of each.
It also checks that the warm path opens no database session.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def timed(fn, ids, rounds: int = 5) -> float:
    """Best mean CPU microseconds per call over ``rounds`` passes.

    CPU time of this process (not wall time): the machine is shared, and other jobs'
    load then shows up much less in the numbers.
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for i in ids:
            fn(i)
        best = min(best, time.process_time() - start)
    return best / len(ids) * 1e6


def profile(fn, ids, top: int) -> None:
    prof = cProfile.Profile()
    prof.enable()
    for i in ids:
        fn(i)
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    import logging

    import numpy as np

    from recsys import create_app
    from recsys.api import deps
    from recsys.recommend import RecommendationService

    app = create_app()
    logging.getLogger("recsys").setLevel(logging.WARNING)
    model = deps.warm(app)
    if model is None:
        sys.exit("no current model: set RECSYS_VAR_DIR to a store with a promoted model")
    rng = np.random.default_rng(0)
    ids = [int(i) for i in rng.choice(np.asarray(model.song_ids), size=args.requests)]
    client = app.test_client()

    def http(song_id: int) -> None:
        resp = client.get(f"/api/songs/{song_id}/similar?k={args.k}")
        assert resp.status_code == 200, resp.data

    from werkzeug.test import EnvironBuilder

    environs = {i: EnvironBuilder(path=f"/api/songs/{i}/similar",
                                  query_string=f"k={args.k}").get_environ() for i in set(ids)}

    def wsgi(song_id: int) -> None:  # the app alone, as a WSGI server calls it
        status = []
        body = b"".join(app.wsgi_app(dict(environs[song_id]),
                                     lambda s, h, e=None: status.append(s)))
        assert status[0].startswith("200"), body

    class NoCatalog:  # the warm path must never reach the database
        def __getattr__(self, name):
            raise AssertionError(f"catalog.{name} called for a known song")

    svc = RecommendationService(model, NoCatalog())

    def direct(song_id: int) -> None:
        svc.similar(song_id, k=args.k)

    def direct_json(song_id: int) -> None:  # what the /similar route calls for known songs
        assert svc.similar_json(song_id, k=args.k) is not None

    opened = []
    engine, factory = app.extensions["recsys.db"]
    from sqlalchemy import event

    event.listen(engine, "connect", lambda *a: opened.append("connect"))
    event.listen(engine, "checkout", lambda *a: opened.append("checkout"))
    http(ids[0])
    direct(ids[0])
    print(f"model {model.version}: {len(model)} songs, dim {model.in_vectors.shape[1]}")
    wsgi(ids[0])
    print(f"http (test client): {timed(http, ids):8.1f} us/request")
    print(f"wsgi app call     : {timed(wsgi, ids):8.1f} us/request")
    print(f"service.similar   : {timed(direct, ids):8.1f} us/call")
    has_json = svc.similar_json(ids[0], k=args.k) is not None
    if has_json:
        print(f"service.similar_json: {timed(direct_json, ids):6.1f} us/call")
    lists = getattr(model, "neighbours", {})
    listed = ", ".join(f"{m} N={r.shape[1]}" for m, (r, _) in lists.items())
    print(f"neighbour lists: {listed or 'none'}")
    print(f"database connections checked out on the warm path: {len(opened)}")
    if args.profile:
        print("\n== http ==")
        profile(http, ids, args.top)
        print("\n== wsgi ==")
        profile(wsgi, ids, args.top)
        print("\n== service.similar ==")
        profile(direct, ids, args.top)
        if has_json:
            print("\n== service.similar_json ==")
            profile(direct_json, ids, args.top)


if __name__ == "__main__":
    main()
