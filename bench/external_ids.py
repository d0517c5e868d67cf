"""Requests by a source's ids vs by catalog ids: CPU per request, side by side, and the cost of
the per-model ``(source, external_id)`` look-up.

Usage::

    .venv/bin/python bench/external_ids.py                      # yes_big setup of §5
    .venv/bin/python bench/external_ids.py --model-dir DIR --database-url URL

1. In process through the Flask test client (as ``bench/request_cpu.py``), on the current model
   of ``--model-dir`` and its database: ``GET /api/songs/<id>/similar?k=10`` vs ``GET
   /api/similar?source=…&external_id=…&k=10`` for the same random songs, and ``POST
   /api/recommendations`` with 10 random seeds as ``song_ids`` vs as ``source`` +
   ``external_ids`` (same seed lists). ``--rounds`` rounds of ``--requests`` requests per kind
   (after a warm-up round); within a round the two forms of a request alternate request by
   request (the first of each pair alternating too), each timed with ``process_time``, so
   drifting machine load hits both alike. Prints the CPU µs per request per round, the medians
   and the by-external / by-id ratios.
2. The look-up itself on a model of ``--lookup-songs`` songs (yes_complete's 75,262 by
   default): a synthetic bundle (exact index, no neighbour lists: only the metadata matters)
   opened as the server opens it, both layouts (dicts up to ``DECODE_MAX_SONGS``, hashes above):
   build time (the first build in the process, on a fresh model), memory it keeps and peak
   while building (tracemalloc, on a second fresh model), and resolve time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))


def measure_requests(args) -> None:
    os.environ.update(RECSYS_MODEL_DIR=str(args.model_dir.resolve()),
                      DATABASE_URL=args.database_url, RECSYS_LOG_LEVEL="WARNING",
                      RECSYS_VAR_DIR=str(Path("/tmp") / f"external-ids-{os.getpid()}"),
                      RECSYS_MODEL_POLL_SECONDS="5")
    import numpy as np

    from recsys import create_app
    from recsys.api.deps import warm

    app = create_app()
    client, model = app.test_client(), warm(app)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(model), args.requests)
    seed_rows = rng.integers(0, len(model), (args.requests, args.seeds))
    meta = {int(r): model.song(int(r)) for r in {*rows.tolist(), *seed_rows.ravel().tolist()}}

    def ext(r: int) -> str:
        return quote(meta[r]["external_id"], safe="")

    similar = {
        "similar by id": [f"/api/songs/{meta[r]['id']}/similar?k=10" for r in rows.tolist()],
        "similar by external id": [f"/api/similar?source={quote(meta[r]['source'])}&"
                                   f"external_id={ext(r)}&k=10" for r in rows.tolist()]}
    recs = {
        "recommend by ids": [{"song_ids": [meta[r]["id"] for r in seeds], "k": 10}
                             for seeds in seed_rows.tolist()],
        "recommend by external ids": [
            {"source": meta[seeds[0]]["source"],
             "external_ids": [meta[r]["external_id"] for r in seeds], "k": 10}
            for seeds in seed_rows.tolist()]}
    assert len({m["source"] for m in meta.values()}) == 1, "one source expected"

    def send(kind: str, i: int) -> None:
        if kind in similar:
            resp = client.get(similar[kind][i])
        else:
            resp = client.post("/api/recommendations", json=recs[kind][i])
        assert resp.status_code == 200, resp.get_data(as_text=True)

    def run(by_id: str, by_ext: str) -> tuple[float, float]:
        """CPU µs per request of each form, the two interleaved request by request (which
        goes first alternates), so both see the same machine load."""
        spent = {by_id: 0.0, by_ext: 0.0}
        clock = time.process_time
        for i in range(args.requests):
            for kind in ((by_id, by_ext) if i % 2 == 0 else (by_ext, by_id)):
                start = clock()
                send(kind, i)
                spent[kind] += clock() - start
        return spent[by_id] / args.requests * 1e6, spent[by_ext] / args.requests * 1e6

    # the same answers both ways
    for a, b in (tuple(similar), tuple(recs)):
        for i in range(20):
            if a in similar:
                one, two = client.get(similar[a][i]), client.get(similar[b][i])
            else:
                one = client.post("/api/recommendations", json=recs[a][i])
                two = client.post("/api/recommendations", json=recs[b][i])
            assert one.get_data() == two.get_data(), (a, i)
    pairs = [tuple(similar), tuple(recs)]
    for pair in pairs:  # warm-up
        run(*pair)
    results: dict[str, list[float]] = {k: [] for k in (*similar, *recs)}
    print(f"model {model.version}: {len(model)} songs; {args.requests} requests per kind and "
          f"round, {args.seeds} seeds per recommendation", flush=True)
    for rnd in range(args.rounds):
        line = []
        for by_id, by_ext in pairs:
            cpu_id, cpu_ext = run(by_id, by_ext)
            results[by_id].append(cpu_id)
            results[by_ext].append(cpu_ext)
            line.append(f"{by_id}: {cpu_id:.0f} µs, {by_ext}: {cpu_ext:.0f} µs "
                        f"({cpu_ext / cpu_id:.3f}x)")
        print(f"round {rnd + 1}: " + "; ".join(line), flush=True)
    # what an app spent before, per song, to learn its catalog id (one request each)
    start = time.process_time()
    for r in rows.tolist():
        source, external_id = meta[r]["source"], ext(r)
        resp = client.get(f"/api/songs?source={quote(source)}&external_id={external_id}")
        assert resp.get_json()["items"][0]["id"] == meta[r]["id"]
    lookup = (time.process_time() - start) / len(rows) * 1e6
    print(f"the look-up request this saves, GET /api/songs?source=…&external_id=…: "
          f"{lookup:.0f} µs CPU per song (database in process: {args.database_url[:10]}…)")
    for by_id, by_ext in pairs:
        ratios = [e / i for i, e in zip(results[by_id], results[by_ext], strict=True)]
        print(f"median {by_id}: {statistics.median(results[by_id]):.0f} µs, {by_ext}: "
              f"{statistics.median(results[by_ext]):.0f} µs; ratio median "
              f"{statistics.median(ratios):.3f} (min {min(ratios):.3f}, max {max(ratios):.3f})")


def synthetic_bundle(root: Path, n: int) -> Path:
    """A bundle of ``n`` synthetic songs with ids ``trk_000001``... (built once)."""
    from _http_setup import synthetic_model

    from recsys.index import build as build_mod
    from recsys.index.store import ModelStore

    store = ModelStore(root)
    version = f"lookup-{n}"
    if version not in store.versions():
        model, playlists = synthetic_model(n, dim=16)
        songs = {int(i): {"source": "acme", "external_id": f"trk_{int(i):06d}",
                          "title": f"Song {int(i)}", "artist": f"Artist {int(i) // 10}"}
                 for i in model.song_ids}
        limits = build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS
        build_mod.NEIGHBOURS_MAX_SONGS = build_mod.APPROX_LISTS_MAX_SONGS = 0  # no lists
        try:
            build_mod.build_bundle(store, model, playlists, songs, backend="exact",
                                   version=version)
        finally:
            build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS = limits
    return store.path(version)


def measure_lookup(args) -> None:
    import numpy as np

    from recsys.recommend import metadata
    from recsys.recommend import model as model_mod

    path = synthetic_bundle(args.work_dir / "models", args.lookup_songs)
    for layout, limit in (("dicts", metadata.DECODE_MAX_SONGS), ("hashes", 0)):
        metadata.DECODE_MAX_SONGS = limit
        model = model_mod.ServingModel.open(path)
        start = time.perf_counter()
        look_up = model.external_ids()
        took = time.perf_counter() - start
        model = model_mod.ServingModel.open(path)  # memory: again (tracemalloc slows it)
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        look_up = model.external_ids()
        kept, peak = (m - before for m in tracemalloc.get_traced_memory())
        tracemalloc.stop()
        rng = np.random.default_rng(1)
        names = [f"trk_{int(i):06d}" for i in rng.choice(model.song_ids, 10_000)]
        start = time.perf_counter()
        for name in names:
            look_up.get("acme", [name])
        one = (time.perf_counter() - start) / len(names) * 1e6
        start = time.perf_counter()
        for i in range(0, len(names), 10):
            found = look_up.get("acme", names[i:i + 10])
        ten = (time.perf_counter() - start) / (len(names) / 10) * 1e6
        assert None not in found
        print(f"look-up, {len(model)} songs, {layout}: built in {took * 1e3:.0f} ms, keeps "
              f"{kept / 2**20:.1f} MiB (nbytes {look_up.nbytes() / 2**20:.1f} MiB), peak "
              f"{peak / 2**20:.1f} MiB while building; resolving 1 id {one:.1f} µs, "
              f"10 ids {ten:.1f} µs", flush=True)
        metadata.DECODE_MAX_SONGS = 100_000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, help="Model store with a current version "
                    "(default: the yes_big setup of bench/http_bench.py --yes-dir, built once).")
    ap.add_argument("--database-url")
    ap.add_argument("--yes-var-dir", type=Path, default=REPO / "var" / "bench" / "yesbig")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--lookup-songs", type=int, default=75_262, help="0: skip part 2.")
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench" / "external-ids")
    args = ap.parse_args()
    if args.model_dir is None:
        from _http_setup import build_yes_setup
        from _yesdata import yes_dir

        args.model_dir, url = build_yes_setup(yes_dir() / "yes_big", args.yes_var_dir, [])
        args.database_url = args.database_url or url
    if not args.database_url:
        ap.error("--database-url is required with --model-dir")
    measure_requests(args)
    if args.lookup_songs:
        measure_lookup(args)


if __name__ == "__main__":
    main()
