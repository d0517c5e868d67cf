"""Neighbour lists for large catalogs: the server's own one-seed answers, computed once.

Catalogs too large for exact lists (see :mod:`recsys.index.build`) still get a short top-N
list per song and mode, so that a one-seed request reads a row of a memory-mapped array
instead of searching the ANN index. Each list is exactly what :meth:`ServingModel.candidates`
answers for that seed without lists (ANN candidates, re-scored with the serving formula), so
serving from the list or from the index gives the same items; their recall against exact
search is measured on a sample and recorded in the manifest.

Each list costs one ANN query (≈90% of its time: the ``next`` index of a large catalog is
searched at a ``search_k`` above the item count), so the build is bounded by listing only the
``max_seeds`` most-played songs (:func:`listed_seeds`); the server searches the index for the
others, which gives the same items as a list would.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

import numpy as np

from recsys.recommend.model import ServingModel

log = logging.getLogger("recsys.index")

# the model a forked worker computes lists for, and the seeds listed
_MODEL: tuple[ServingModel, np.ndarray] | None = None


def listed_seeds(counts: np.ndarray, max_seeds: int) -> np.ndarray:
    """Sorted rows of the ``max_seeds`` most-played songs (every row if there are no more);
    equal counts go to the lower row."""
    counts = np.asarray(counts)
    if len(counts) <= max_seeds:
        return np.arange(len(counts), dtype=np.int32)
    top = np.argsort(-counts, kind="stable")[:max(int(max_seeds), 0)]
    return np.sort(top).astype(np.int32)


def _chunk(args: tuple[str, int, int, int]) -> tuple[int, np.ndarray, np.ndarray]:
    mode, start, stop, n = args
    model, seeds = _MODEL
    rows = np.full((stop - start, n), -1, np.int32)
    scores = np.full((stop - start, n), -np.inf, np.float32)
    for i, seed in enumerate(seeds[start:stop]):
        found = model.candidates(mode, np.array([seed]), n, set())
        rows[i, : len(found.rows)] = found.rows
        scores[i, : len(found.rows)] = found.scores
    return start, rows, scores


def serving_lists(model: ServingModel, mode: str, n: int, workers: int | None = None,
                  chunk: int = 5000, seeds: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Top-``n`` rows and scores of each of ``seeds`` (default: every song) in ``mode`` as the
    server answers them, one row per seed in the order given.

    ``model`` must have no lists for ``mode`` yet. With ``workers`` > 1 the rows are split
    over forked processes (they share the model's memory-mapped files); default: one per CPU,
    one in all for an exact index.
    """
    global _MODEL
    if mode in model.neighbours:
        raise ValueError(f"the model already has {mode} lists")
    seeds = np.arange(len(model)) if seeds is None else np.asarray(seeds, dtype=np.int64)
    n_items = len(seeds)
    n = min(int(n), len(model) - 1)
    if workers is None:  # a scan already uses every core through BLAS: two forked workers
        # gained nothing at 253,308 songs (7.6 against 7.7 ms a list, bench/list_build.py)
        exact = model.indexes[mode].backend == "exact"
        workers = 1 if exact else os.cpu_count() or 1
    workers = max(1, workers)
    rows = np.empty((n_items, n), np.int32)
    scores = np.empty((n_items, n), np.float32)
    tasks = [(mode, s, min(s + chunk, n_items), n) for s in range(0, n_items, chunk)]
    started = logged = time.monotonic()
    done = 0
    _MODEL = (model, seeds)
    try:
        if workers == 1 or len(tasks) == 1:
            results = map(_chunk, tasks)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(workers)
            results = pool.imap_unordered(_chunk, tasks)
        for start, chunk_rows, chunk_scores in results:
            rows[start: start + len(chunk_rows)] = chunk_rows
            scores[start: start + len(chunk_rows)] = chunk_scores
            done += len(chunk_rows)
            if done == n_items or time.monotonic() - logged >= 30:
                logged = time.monotonic()
                log.info("%s lists: %d/%d songs (%.0f%%, %.0fs)", mode, done, n_items,
                         100 * done / n_items, logged - started)
        if pool is not None:
            pool.close()
            pool.join()
    finally:
        _MODEL = None
    if (rows < 0).any():
        raise RuntimeError(f"{mode} lists: the index returned fewer than {n} candidates")
    return rows, scores


def exact_top(model: ServingModel, mode: str, seed: int, n: int) -> np.ndarray:
    """Exact top-``n`` rows for one seed by scanning every song (recall measurement)."""
    if mode == "next":
        scores = model.next_scores(np.array([seed]), np.arange(len(model)))
    else:
        vectors = np.asarray(model.in_vectors)
        norms = np.maximum(np.linalg.norm(vectors, axis=1), 1e-12)
        scores = (vectors @ vectors[seed]) / norms
    scores[seed] = -np.inf
    top = np.argpartition(-scores, n - 1)[:n]
    return top[np.argsort(-scores[top], kind="stable")]


def list_recall(model: ServingModel, mode: str, rows: np.ndarray, k: int = 10,
                sample: int = 200, seed: int = 0, seeds: np.ndarray | None = None) -> float:
    """Mean recall@``k`` of the lists ``rows`` (of ``seeds``, default every song) against
    exact search on sampled lists."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(rows), size=min(sample, len(rows)), replace=False)
    of = np.arange(len(rows)) if seeds is None else np.asarray(seeds)
    k = min(k, rows.shape[1])
    hits = [len(set(rows[i, :k].tolist())
                & set(exact_top(model, mode, int(of[i]), k).tolist())) for i in picked]
    return float(np.mean(hits)) / k
