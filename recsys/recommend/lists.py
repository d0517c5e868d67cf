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
others, which gives the same items as a list would. Over an exact index the scans of
``BATCH`` seeds are one matrix product and each row's top is found among the scores above a
threshold taken from a sample of its columns (:func:`block_top`), instead of a
matrix-vector product and an ``argpartition`` of every song per seed (the two halves of a
list's 11 ms at 250,192 songs; docs/benchmarks.md §19).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

import numpy as np

from recsys.index.exact import normalize_rows
from recsys.recommend.model import POOL_WIDTH, ServingModel

log = logging.getLogger("recsys.index")

#: Seeds scanned by one matrix product (a block of BATCH x n float32 scores: 64 MB at
#: 250,000 songs).
BATCH = 64
#: Columns sampled per row to find a threshold above which its top lies.
SAMPLE = 8192
#: Candidates taken beyond those wanted from the matrix product, then scored again
#: (:func:`_rescored`): its rounding may move a song across the cut.
MARGIN = 8

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
    if model.indexes[mode].backend == "exact" and n > 0:
        return (start, *_scan_lists(model, mode, seeds[start:stop], n))
    rows = np.full((stop - start, n), -1, np.int32)
    scores = np.full((stop - start, n), -np.inf, np.float32)
    for i, seed in enumerate(seeds[start:stop]):
        found = model.candidates(mode, np.array([seed]), n, set())
        rows[i, : len(found.rows)] = found.rows
        scores[i, : len(found.rows)] = found.scores
    return start, rows, scores


def block_top(block: np.ndarray, want: int) -> list[np.ndarray]:
    """Columns of the ``want`` best scores of each row of ``block``, best first, equal scores
    by the lower column.

    A row's threshold is a value of a strided sample of its columns with, in expectation,
    about twice ``want`` columns of the whole row at or above it; only those are sorted. A
    row with fewer than ``want`` there (a sample unlike its row) is partitioned whole.
    """
    m, n = block.shape
    want = min(want, n)
    stride = max(1, n // SAMPLE)
    if stride == 1 or want * 4 >= n:
        thresholds = np.full(m, -np.inf, block.dtype)
    else:
        sample = block[:, ::stride]
        rank = min(sample.shape[1], 2 * want // stride + 2)  # the rank-th largest of it
        thresholds = np.partition(sample, sample.shape[1] - rank, axis=1)[:, -rank]
    rows, cols = np.nonzero(block >= thresholds[:, None])
    bounds = np.searchsorted(rows, np.arange(m + 1))
    out = []
    for i in range(m):
        found = cols[bounds[i]:bounds[i + 1]]
        if len(found) < want:
            found = np.argpartition(-block[i], want - 1)[:want]
        values = block[i, found]
        out.append(found[np.lexsort((found, -values))[:want]])
    return out


def _scan_lists(model: ServingModel, mode: str, seeds: np.ndarray, n: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """What ``model.candidates(mode, [seed], n, set())`` answers for each seed over an exact
    ``mode`` index, ``BATCH`` seeds a matrix product."""
    index = model.indexes[mode]
    vectors = index.vectors
    rows = np.empty((len(seeds), n), np.int32)
    scores = np.empty((len(seeds), n), np.float32)
    wide = min(len(model), n * POOL_WIDTH)  # the `next` pool's ANN part, as candidates'
    for start in range(0, len(seeds), BATCH):
        part = seeds[start:start + BATCH]
        if mode == "similar":  # the query as candidates() and the index normalise it
            queries = np.stack([normalize_rows(_unit(model.in_vectors[int(s)])) for s in part])
        else:
            queries = np.hstack([model.w2v_weight * np.asarray(model.in_vectors[part]),
                                 np.ones((len(part), 1), np.float32)]).astype(np.float32)
        block = queries @ vectors.T
        want = n + 1 if mode == "similar" else wide + 1  # the seed itself is dropped
        for i, (seed, top) in enumerate(zip(part.tolist(), block_top(block, want + MARGIN),
                                            strict=True)):
            top, values = _rescored(vectors, queries[i], top, want)
            keep = top != seed
            top, values = top[keep], values[keep]
            if mode == "similar":
                found, values = top[:n], values[:n]
            else:
                found, values = _next_pool(model, seed, top[:wide], wide, n)
            rows[start + i], scores[start + i] = found, values
    return rows, scores


def _rescored(vectors: np.ndarray, query: np.ndarray, cols: np.ndarray, want: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """The ``want`` best of ``cols`` by the scan's own scores, best first (equal ones by the
    lower column).

    The matrix product rounds differently from the matrix-vector product of a one-seed
    scan (1-2 units in the last place), which reorders near-equal songs: the candidates are
    scored again by a matrix-vector product, over a multiple of 8 rows, which BLAS computes
    as it computes those rows within the whole scan.
    """
    pad = (-len(cols)) % 8
    padded = np.concatenate([cols, np.repeat(cols[:1], pad)])
    values = (np.asarray(vectors[padded]) @ query)[:len(cols)]
    order = np.lexsort((cols, -values))[:want]
    return cols[order], values[order]


def _unit(vector: np.ndarray) -> np.ndarray:
    """One seed's ``similar`` query, as :meth:`ServingModel.candidates` computes it."""
    return vector / max(float(np.sqrt(vector @ vector)), 1e-12)


def _next_pool(model: ServingModel, seed: int, ann_rows: np.ndarray, wide: int, n: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """The rest of :meth:`ServingModel.candidates` for one ``next`` seed: the ANN rows and
    the count neighbours, re-scored by the served formula."""
    seeds = np.array([seed])
    pool = np.union1d(ann_rows, model._count_neighbours(seeds, wide))
    pool = pool[pool != seed]
    values = model.next_scores(seeds, pool)
    order = np.argsort(-values, kind="stable")[:n]
    return pool[order], values[order]


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
