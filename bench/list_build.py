"""Serving lists of a large catalog: per-seed loop against the bounded build.

Usage::

    .venv/bin/python bench/list_build.py [--songs 50000] [--playlists 200000] [--seeds 2000]
        [--work var/helper-lists]

Draws playlists from ``bench/scale_catalog.py``'s generator (in memory), trains word2vec (two
epochs, the blend weights of the tests; cached in ``--work``) and builds, in one run, the
bundle as a catalog above the exact-list limit (patched to 0): *before* (Annoy whatever its
recall, a list per song: timed on ``--seeds`` random songs per mode and extrapolated to the
catalog over ``--workers``, as a full run would take an hour at 250,000 songs) and *after*
(the build as it is now, timed whole). Prints both, their ratio and the ``next`` index's query
time in both bundles.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scale_catalog import Catalog, lengths, playlist  # noqa: E402

from recsys.index import build as build_mod  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402
from recsys.recommend.lists import serving_lists  # noqa: E402
from recsys.recommend.model import MODES, ServingModel  # noqa: E402

log = logging.getLogger("bench.list_build")


def playlists(n_songs: int, n_playlists: int, seed: int = 0) -> list[list[int]]:
    """Synthetic playlists with the scale catalog's planted structure."""
    rng = np.random.default_rng(seed)
    cat = Catalog(n_songs, 40, rng)
    return [playlist(cat, rng, 40, int(n)) for n in lengths(rng, n_playlists)]


def model_and_playlists(work: Path, n_songs: int, n_playlists: int):
    """The cached (model, playlists) pair for this size, trained on first use."""
    path = work / f"model-{n_songs}-{n_playlists}.pkl"
    if path.is_file():
        with path.open("rb") as fh:
            return pickle.load(fh)
    started = time.perf_counter()
    lists = playlists(n_songs, n_playlists)
    log.info("%d playlists drawn in %.1fs", len(lists), time.perf_counter() - started)
    settings = TrainSettings(epochs=2, workers=2, next_transition_weight=0.5,
                             next_cooc_weight=0.2, next_pop_weight=0.1)
    model = train(lists, settings)
    log.info("trained %d songs in %.1fs", len(model), time.perf_counter() - started)
    work.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        pickle.dump((model, lists), fh)
    return model, lists


def build(work: Path, model, lists, before: bool, workers: int) -> tuple[Path, float]:
    """``build_bundle`` as for a catalog above the exact-list limit, timed. ``before``: the
    build before the bound (Annoy whatever its recall; its lists, one per song, are timed on
    a sample by :func:`list_times`, so none are written here)."""
    store = ModelStore(work / "store")
    version = f"{'before' if before else 'after'}-{len(model)}-{int(time.time())}"
    patches = {"NEIGHBOURS_MAX_SONGS": 0}
    index = build_mod._index
    if before:
        patches["APPROX_LISTS_MAX_SONGS"] = 0
        patches["_index"] = lambda *a, **k: index(*a[:5], scan_fallback=False)
    old = {name: getattr(build_mod, name) for name in patches}
    for name, value in patches.items():
        setattr(build_mod, name, value)
    songs = {int(i): {"source": "bench", "external_id": str(i), "title": str(i),
                      "artist": str(i)} for i in model.song_ids}
    started = time.perf_counter()
    try:
        build_mod.build_bundle(store, model, lists, songs, version=version,
                               list_workers=workers)
    finally:
        for name, value in old.items():
            setattr(build_mod, name, value)
    return store.path(version), time.perf_counter() - started


def list_times(path: Path, n_seeds: int) -> dict[str, float]:
    """ms per list (one worker) of ``n_seeds`` random songs per mode."""
    model = ServingModel.open(path)
    some = np.random.default_rng(0).choice(len(model), min(n_seeds, len(model)), replace=False)
    out = {}
    for mode in MODES:
        started = time.perf_counter()
        serving_lists(model, mode, build_mod.APPROX_LISTS_N, workers=1, seeds=some)
        out[mode] = (time.perf_counter() - started) / len(some) * 1e3
    return out


def query_ms(path: Path, n: int = 200) -> float:
    """ms per ``next`` index query (the pool of a one-seed request without a list)."""
    model = ServingModel.open(path)
    rows = np.random.default_rng(1).choice(len(model), min(n, len(model)), replace=False)
    queries = np.hstack([np.asarray(model.in_vectors)[rows] * model.w2v_weight,
                         np.ones((len(rows), 1), np.float32)])
    started = time.perf_counter()
    for q in queries:
        model.indexes["next"].query(q, 4 * build_mod.APPROX_LISTS_N)
    return (time.perf_counter() - started) / len(rows) * 1e3


def fork_cost(path: Path, n_seeds: int) -> dict[int, float]:
    """Wall ms per ``next`` list of the ``after`` bundle with one process and two workers."""
    model = ServingModel.open(path)
    model.neighbours, model.listed_seeds = {}, None
    seeds = np.arange(min(n_seeds, len(model)))
    out = {}
    for workers in (1, 2):
        started = time.perf_counter()
        serving_lists(model, "next", build_mod.APPROX_LISTS_N, workers=workers, seeds=seeds,
                      chunk=max(len(seeds) // 4, 1))
        out[workers] = (time.perf_counter() - started) / len(seeds) * 1e3
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--playlists", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=1_000)
    parser.add_argument("--workers", type=int, default=None,
                        help="list workers (default: build_bundle's)")
    parser.add_argument("--work", type=Path, default=Path("var/helper-lists"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)
    model, lists = model_and_playlists(args.work, args.songs, args.playlists)
    n = len(model)
    before, before_s = build(args.work, model, lists, True, args.workers)
    per_list = list_times(before, args.seeds)
    workers = args.workers or os.cpu_count() or 1
    before_lists = sum(per_list.values()) * n / 1e3 / workers
    after, after_s = build(args.work, model, lists, False, args.workers)
    manifest = ServingModel.open(after).manifest
    info = manifest["neighbours"]
    counts = np.asarray(model.counts)
    print(f"\n{n:,} songs, {len(lists):,} playlists, {counts.sum():,} plays; "
          f"{workers} list workers; before: lists timed on {args.seeds:,} songs per mode "
          f"({per_list['similar']:.2f} / {per_list['next']:.2f} ms per list, one worker)")
    print("| build | indexes (`next`) | lists | build without lists | lists | total |")
    print("|---|---|---|---:|---:|---:|")
    before_next = ServingModel.open(before).manifest["indexes"]["next"]
    print(f"| before | annoy, {before_next['n_trees']} trees, search_k "
          f"{before_next['search_k']}, recall@10 {before_next['recall_at_10']} "
          f"| {n:,} songs (estimated) | {before_s:.0f} s | {before_lists:.0f} s "
          f"| {before_s + before_lists:.0f} s |")
    after_next = manifest["indexes"]["next"]
    print(f"| after | {after_next['backend']}, recall@10 {after_next['recall_at_10']} "
          f"| {info['listed_songs']:,} songs ({info['plays_listed']:.1%} of plays), "
          f"recall@10 {info['recall_at_10']} | {after_s - info['seconds']:.0f} s "
          f"| {info['seconds']:.0f} s | {after_s:.0f} s |")
    forked = fork_cost(after, args.seeds)
    print(f"`next` lists over the scan, ms per list (wall): one process {forked[1]:.2f}, "
          f"two forked workers {forked[2]:.2f}")
    print(f"ratio before/after: {(before_s + before_lists) / after_s:.1f}x; "
          f"`next` index query (k={4 * build_mod.APPROX_LISTS_N}): before "
          f"{query_ms(before):.2f} ms, after {query_ms(after):.2f} ms")


if __name__ == "__main__":
    main()
