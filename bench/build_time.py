"""The nightly build's three slow parts at scale, before and after, side by side in one run.

Usage::

    .venv/bin/python bench/build_time.py [--songs 300000] [--playlists 1000000]
        [--work var/helper-lists] [--list-sample 2000] [--tuning-bundle PATH]
        [--before-rev REV]

On ``bench/list_build.py``'s synthetic catalog and model (cached in ``--work``; 253,308 songs
at the defaults), with a holdout of playlists holding at most 20,000 transitions (the
training job's bound):

* *Annoy tuning* of both indexes as a large catalog's build tunes them: the full grid
  (before) against ``early_stop`` (after): seconds, forests built, the outcome (the setting,
  or the exact scan it falls back to). ``--tuning-bundle`` takes the vectors from a written
  bundle instead (e.g. docs/benchmarks.md §17's one-epoch model).
* *The counting baselines* of the evaluation (``baseline_metrics``): ``recsys/ml/baselines.py``
  of ``--before-rev`` (read with ``git show``) against the current one, and their metrics.
* *The lists of the most played songs* over exact indexes: one scan per seed (the former
  loop, timed on ``--list-sample`` seeds per mode and scaled to the listed songs) against
  ``serving_lists`` (all of them), and whether they hold the same rows.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from list_build import model_and_playlists  # noqa: E402

from recsys.index import build as build_mod  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.index.tuning import choose_annoy_params  # noqa: E402
from recsys.jobs.evaluation import baseline_metrics  # noqa: E402
from recsys.ml.evaluate import evaluate  # noqa: E402
from recsys.recommend.lists import listed_seeds, serving_lists  # noqa: E402
from recsys.recommend.model import MODES, ServingModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BEFORE_REV = "d5cd8e4~1"  # the commit before the sparse baselines


def holdout_split(lists: list[list[int]], max_transitions: int = 20_000, seed: int = 1):
    """(train, holdout): random playlists up to ``max_transitions`` transitions (and a tenth
    of the playlists) held out."""
    order = np.random.default_rng(seed).permutation(len(lists))
    held, total = set(), 0
    for i in order.tolist():
        if total + len(lists[i]) - 1 > max_transitions or len(held) >= len(lists) // 10:
            break
        held.add(i)
        total += max(len(lists[i]) - 1, 0)
    return ([p for i, p in enumerate(lists) if i not in held],
            [p for i, p in enumerate(lists) if i in held])


def tuning_inputs(model, bundle: Path | None):
    """(cosine vectors, dot vectors, dot queries) as ``build_bundle`` tunes them."""
    if bundle is not None:
        model = ServingModel.open(bundle, verify=False)
        in_vectors = np.asarray(model.in_vectors)
        nxt = np.hstack([np.asarray(model.out_vectors), model.pop_term[:, None]])
        w2v = model.w2v_weight
    else:
        in_vectors, nxt = model.in_vectors, build_mod.next_item_vectors(model)
        w2v = model.settings.next_w2v_weight
    rng = np.random.default_rng(0)
    sample = rng.choice(len(in_vectors), size=min(500, len(in_vectors)), replace=False)
    queries = np.hstack([in_vectors[sample] * w2v, np.ones((len(sample), 1), np.float32)])
    return in_vectors, nxt.astype(np.float32), queries


def tuning(model, bundle: Path | None) -> None:
    in_vectors, nxt, queries = tuning_inputs(model, bundle)
    bound = len(in_vectors) // build_mod.SCAN_NODES_PER_ITEM
    print(f"\n**Annoy tuning** ({len(in_vectors):,} items, search_k bound {bound:,})\n\n"
          "| index | sweep | seconds | forests built | outcome |\n|---|---|---:|---|---|")
    for name, vectors, metric, qs in (("similar", in_vectors, "cosine", None),
                                      ("next", nxt, "dot", queries)):
        for label, early in (("full grid (before)", False), ("early stop (after)", True)):
            started = time.perf_counter()
            result = choose_annoy_params(vectors, metric, queries=qs, max_search_k=bound,
                                         n_queries=min(500, len(vectors)), early_stop=early)
            seconds = time.perf_counter() - started
            forests = sorted({c["n_trees"] for c in result.candidates})
            outcome = (f"Annoy {result.n_trees} trees, search_k {result.search_k:,}, recall "
                       f"{result.recall:.3f}" if result.reached else
                       f"exact scan (best Annoy recall {result.recall:.3f})")
            print(f"| {name} | {label} | {seconds:.1f} | {forests} | {outcome} |", flush=True)


def former_baselines(rev: str):
    """``recsys/ml/baselines.py`` as it was at ``rev``, as a module."""
    source = subprocess.run(["git", "show", f"{rev}:recsys/ml/baselines.py"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location("former_baselines", fh.name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    Path(fh.name).unlink()
    return module


def baselines(train, holdout, rev: str) -> None:
    old = former_baselines(rev)
    makers = {"popularity": lambda: old.PopularityRecommender(train),
              "transitions": lambda: old.transition_recommender(train),
              "cooccurrence": lambda: old.cooccurrence_recommender(train),
              "cooccurrence_plays": lambda: old.cooccurrence_recommender(train, repeats=True)}
    print(f"\n**Counting baselines** ({len(train):,} training playlists, {len(holdout):,} "
          f"held out, {sum(len(p) - 1 for p in holdout):,} transitions)\n\n"
          "| baseline | before s | after s | ratio | HR@10 before / after | MRR@10 before / "
          "after | cont. HR@10 before / after |\n|---|---:|---:|---:|---|---|---|")
    started = time.perf_counter()
    after = baseline_metrics(train, holdout)
    after_s = time.perf_counter() - started
    before_total = 0.0
    for name, make in makers.items():
        started = time.perf_counter()
        row = evaluate(name, make(), holdout)
        before_total += (seconds := time.perf_counter() - started)
        new = after[name]
        print(f"| {name} | {seconds:.1f} | | | {row['hr@10']:.6f} / {new['hr@10']:.6f} | "
              f"{row['mrr@10']:.6f} / {new['mrr@10']:.6f} | {row['cont_hr@10']:.6f} / "
              f"{new['cont_hr@10']:.6f} |", flush=True)
    print(f"| all four | {before_total:.1f} | {after_s:.1f} | {before_total / after_s:.1f}× "
          "| | | |")


def lists(work: Path, model, train, sample: int) -> None:
    store = ModelStore(work / "store")
    version = f"buildtime-{len(model)}-{int(time.time())}"
    old = {"NEIGHBOURS_MAX_SONGS": build_mod.NEIGHBOURS_MAX_SONGS,
           "APPROX_LISTS_MAX_SONGS": build_mod.APPROX_LISTS_MAX_SONGS}
    build_mod.NEIGHBOURS_MAX_SONGS = build_mod.APPROX_LISTS_MAX_SONGS = 0  # no lists yet
    songs = {int(i): {"source": "bench", "external_id": str(i), "title": str(i),
                      "artist": str(i)} for i in model.song_ids}
    try:
        build_mod.build_bundle(store, model, train, songs, version=version, backend="exact")
    finally:
        for name, value in old.items():
            setattr(build_mod, name, value)
    served = ServingModel.open(store.path(version), verify=False)
    seeds = listed_seeds(np.asarray(served.counts), build_mod.APPROX_LISTS_MAX_SEEDS)
    n = build_mod.APPROX_LISTS_N
    some = np.sort(np.random.default_rng(0).choice(seeds, min(sample, len(seeds)),
                                                   replace=False))
    print(f"\n**Lists** of the {len(seeds):,} most played songs (N={n}, exact indexes; "
          f"before: one scan per seed, timed on {len(some):,} and scaled)\n\n"
          "| mode | before s (est.) | after s | ratio | same rows (of the timed) | "
          "largest score difference |\n|---|---:|---:|---:|---:|---:|")
    for mode in MODES:
        started = time.perf_counter()
        former = [served.candidates(mode, np.array([s]), n, set()) for s in some.tolist()]
        before_s = (time.perf_counter() - started) * len(seeds) / len(some)
        started = time.perf_counter()
        rows, scores = serving_lists(served, mode, n, seeds=seeds)
        after_s = time.perf_counter() - started
        slot = np.searchsorted(seeds, some)
        same = sum(rows[j].tolist() == f.rows.tolist() for j, f in zip(slot, former,
                                                                         strict=True))
        diff = max(float(np.abs(scores[j] - f.scores).max()) for j, f in zip(slot, former,
                                                                              strict=True))
        print(f"| {mode} | {before_s:.0f} | {after_s:.1f} | {before_s / after_s:.1f}× | "
              f"{same:,} / {len(some):,} | {diff:.2g} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=300_000)
    parser.add_argument("--playlists", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("var/helper-lists"))
    parser.add_argument("--list-sample", type=int, default=2_000)
    parser.add_argument("--tuning-bundle", type=Path, default=None,
                        help="tune on this bundle's vectors instead of the cached model's")
    parser.add_argument("--before-rev", default=BEFORE_REV,
                        help="git revision of the former recsys/ml/baselines.py")
    parser.add_argument("--parts", default="tuning,baselines,lists")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    model, playlists = model_and_playlists(args.work, args.songs, args.playlists)
    train, holdout = holdout_split(playlists)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}: {len(model):,} songs, {len(playlists):,} "
          f"playlists")
    parts = set(args.parts.split(","))
    if "tuning" in parts:
        tuning(model, args.tuning_bundle)
    if "baselines" in parts:
        baselines(train, holdout, args.before_rev)
    if "lists" in parts:
        lists(args.work, model, train, args.list_sample)


if __name__ == "__main__":
    main()
