"""Serving lists of a large catalog: per-seed loop against the bounded build.

Usage::

    .venv/bin/python bench/list_build.py [--songs 50000] [--playlists 200000] [--seeds 2000]
        [--work var/helper-lists]

Draws playlists from ``bench/scale_catalog.py``'s generator (in memory), trains word2vec (two
epochs, the blend weights of the tests), caches the model in ``--work``, writes a bundle
without lists (the ANN indexes tuned as ``build_bundle`` tunes them) and then times, in the
same run, ``serving_lists`` on ``--seeds`` sampled songs per mode: any songs (the build listed
every song before) and the most-played ``APPROX_LISTS_MAX_SEEDS`` (the songs listed now).
Prints ms per seed, both builds extrapolated to the catalog (one worker) and their ratio, and
the ``next`` index's query time against an exact scan.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scale_catalog import Catalog, lengths, playlist  # noqa: E402

from recsys.index import build as build_mod  # noqa: E402
from recsys.index.exact import ExactIndex  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402
from recsys.recommend.lists import listed_seeds, serving_lists  # noqa: E402
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


def bare_bundle(work: Path, model, lists) -> Path:
    """A bundle without lists (built once per model)."""
    store = ModelStore(work / "store")
    version = f"bare-{len(model)}-{len(lists)}"
    if not (store.versions_dir / version).is_dir():
        old = build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS
        build_mod.NEIGHBOURS_MAX_SONGS = build_mod.APPROX_LISTS_MAX_SONGS = 0
        try:
            songs = {int(i): {"source": "bench", "external_id": str(i), "title": str(i),
                              "artist": str(i)} for i in model.song_ids}
            build_mod.build_bundle(store, model, lists, songs, version=version)
        finally:
            build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS = old
    return store.path(version)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=50_000)
    parser.add_argument("--playlists", type=int, default=200_000)
    parser.add_argument("--seeds", type=int, default=2_000)
    parser.add_argument("--work", type=Path, default=Path("var/helper-lists"))
    parser.add_argument("--prepare", action="store_true", help="only train and build")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)
    model, lists = model_and_playlists(args.work, args.songs, args.playlists)
    path = bare_bundle(args.work, model, lists)
    print(f"bundle {path}: {len(model):,} songs")
    if args.prepare:
        return
    measure(path, args.seeds)


def _per_seed_ms(model, mode: str, seeds: np.ndarray) -> float:
    started = time.perf_counter()
    serving_lists(model, mode, build_mod.APPROX_LISTS_N, workers=1, seeds=seeds)
    return (time.perf_counter() - started) / len(seeds) * 1e3


def measure(path: Path, n_seeds: int) -> None:
    """Time the lists of random and of most-played seeds; extrapolate to the catalog."""
    model = ServingModel.open(path)
    n = len(model)
    counts = np.asarray(model.counts)
    rng = np.random.default_rng(0)
    listed = listed_seeds(counts, build_mod.APPROX_LISTS_MAX_SEEDS)
    some = rng.choice(n, size=min(n_seeds, n), replace=False)
    top = rng.choice(listed, size=min(n_seeds, len(listed)), replace=False)
    print(f"{n:,} songs; lists for {len(listed):,} (plays covered "
          f"{counts[listed].sum() / counts.sum():.3f}); {len(some):,} seeds timed per mode")
    print("| mode | index | ms/seed, any song | ms/seed, listed songs | every song (before) "
          "| listed songs (after) | ratio |")
    for mode in MODES:
        params = model.indexes[mode].params
        any_ms, top_ms = _per_seed_ms(model, mode, some), _per_seed_ms(model, mode, top)
        before, after = n * any_ms / 1e3, len(listed) * top_ms / 1e3
        print(f"| {mode} | {params.get('n_trees')} trees, search_k {params.get('search_k')} "
              f"| {any_ms:.2f} | {top_ms:.2f} | {before:.0f} s | {after:.0f} s "
              f"| {before / after:.2f} |")
    vectors = np.hstack([np.asarray(model.out_vectors), model.pop_term[:, None]])
    scan = ExactIndex.build(vectors, "dot")
    queries = np.hstack([np.asarray(model.in_vectors)[some[:200]] * model.w2v_weight,
                         np.ones((min(200, len(some)), 1), np.float32)])
    for name, index in (("annoy", model.indexes["next"]), ("exact scan", scan)):
        started = time.perf_counter()
        for q in queries:
            index.query(q, 4 * build_mod.APPROX_LISTS_N)
        ms = (time.perf_counter() - started) / len(queries) * 1e3
        print(f"next index query (k={4 * build_mod.APPROX_LISTS_N}), {name}: {ms:.2f} ms")


if __name__ == "__main__":
    main()
