"""Measure recall against exact search and pick Annoy parameters by measurement.

Run at bundle-build time on the real catalog (~10k songs, 32-128 dims): the sweep builds
a handful of small forests and takes seconds there. On large catalogs a forest of 80 trees
takes a minute to build, so the build's bounded sweep (``early_stop``) stops building forests
once one reaches the target or once the trend shows it out of reach (:func:`out_of_reach`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from recsys.index.annoy_index import AnnoyIndex
from recsys.index.base import VectorIndex, check_vectors, logger
from recsys.index.exact import ExactIndex

DEFAULT_N_TREES_GRID = (5, 10, 20, 40, 80)
DEFAULT_SEARCH_K_MULTS = (1, 2, 4, 8, 16, 32, 64, 128)
#: ``early_stop``: the target is out of reach when even this many times the last forest's
#: logit gain, for every forest left, would not reach it (docs/benchmarks.md §19: at 250,192
#: songs the gains per doubled forest varied 0.12-2.9 and the best recall of the grid stayed
#: below the target in every such case).
TREND_MARGIN = 2.0


def exact_truth(
    exact: ExactIndex, queries: np.ndarray, k: int, exclude: Sequence[int] | None = None
) -> np.ndarray:
    """Exact top-k positions ``(m, k)``; ``exclude[i]`` (a position) is removed from row i."""
    extra = 1 if exclude is not None else 0
    positions, _ = exact.query_batch(queries, k + extra)
    if exclude is None:
        return positions
    rows = [row[row != skip][:k] for row, skip in zip(positions, exclude, strict=True)]
    return np.stack(rows)


def evaluate(
    index: VectorIndex,
    queries: np.ndarray,
    truth: np.ndarray,
    exclude: Sequence[int] | None = None,
    repeats: int = 1,
) -> tuple[float, float]:
    """Recall@k of ``index`` against ``truth`` and mean seconds per query (best of repeats)."""
    k = truth.shape[1]
    best = float("inf")
    hits = 0
    for _ in range(max(repeats, 1)):
        hits = 0
        start = time.perf_counter()
        for i, query in enumerate(queries):
            skip = () if exclude is None else (int(exclude[i]),)
            found, _ = index.query(query, k, exclude=skip)
            hits += len(np.intersect1d(found, truth[i], assume_unique=True))
        best = min(best, time.perf_counter() - start)
    return hits / truth.size, best / max(len(queries), 1)


def measure_recall(
    index: VectorIndex,
    exact: ExactIndex,
    queries: np.ndarray,
    k: int = 10,
    exclude: Sequence[int] | None = None,
) -> float:
    """Recall@k of ``index`` against ``exact`` for each row of ``queries``.

    Args:
        exclude: optional per-query position to skip (e.g. the query item itself).
    """
    truth = exact_truth(exact, queries, k, exclude)
    return evaluate(index, queries, truth, exclude)[0]


@dataclass
class AnnoyTuning:
    """Outcome of ``choose_annoy_params``; ``as_manifest()`` is what the bundle records."""

    n_trees: int
    search_k: int
    recall: float
    query_ms: float
    reached: bool
    target_recall: float
    k: int
    n_queries: int
    metric: str
    tuning_seconds: float = 0.0
    candidates: list[dict[str, Any]] = field(default_factory=list)
    index: AnnoyIndex | None = field(default=None, repr=False)

    def as_manifest(self) -> dict[str, Any]:
        """JSON-serialisable summary (without the sweep details and the index)."""
        skip = {"index", "candidates"}
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        data[f"recall_at_{self.k}"] = data.pop("recall")
        return data


def choose_annoy_params(
    vectors: np.ndarray,
    metric: str,
    target_recall: float = 0.95,
    k: int = 10,
    queries: np.ndarray | None = None,
    n_queries: int = 500,
    n_trees_grid: Sequence[int] = DEFAULT_N_TREES_GRID,
    search_k_mults: Sequence[int] = DEFAULT_SEARCH_K_MULTS,
    seed: int = 0,
    n_jobs: int = 1,
    max_search_k: int | None = None,
    early_stop: bool = False,
) -> AnnoyTuning:
    """Sweep ``n_trees`` x ``search_k`` and return the fastest setting reaching the target.

    For each ``n_trees`` (ascending) a forest is built and ``search_k = k * n_trees * mult``
    is raised until recall@k on the sample reaches ``target_recall`` (one bisection step
    refines the last doubling). The cheapest such setting wins, by the deterministic work
    estimate ``search_k + n_trees * log2(n)`` (measured times at this scale are mostly
    Python overhead and noise; they are recorded too). Larger forests are skipped once one
    reaches the target at the smallest ``search_k``. If none reaches it, the best recall is returned
    with ``reached=False`` (and a warning logged).

    With ``early_stop`` (the build's bounded sweep of large catalogs, where a forest of 80
    trees takes a minute) no larger forest is built once one reaches the target (at 253,308
    songs every forest reached it at the same ``search_k``, so the smallest was chosen anyway),
    nor once :func:`out_of_reach` judges the target out of reach from the best recall of the
    forests built so far.

    Args:
        vectors: item matrix to index.
        metric: ``"cosine"`` or ``"dot"``.
        queries: query vectors; default samples ``n_queries`` items and queries them like
            ``query_item`` (excluding the item itself). Pass real query vectors for ``dot``.
        seed: sampling and forest seed.
        n_jobs: Annoy build threads (1 keeps the forests reproducible for a given seed).
        max_search_k: no larger ``search_k`` is tried (except the very first step), e.g. the
            item count, above which an exact scan costs less than the search.
        early_stop: stop building forests as described above.

    Returns:
        AnnoyTuning, with ``.index`` holding the chosen forest (``search_k`` set).
    """
    start = time.perf_counter()
    data = check_vectors(vectors)
    exact = ExactIndex.build(data, metric)
    rng = np.random.default_rng(seed)
    exclude = None
    if queries is None:
        exclude = rng.choice(len(data), size=min(n_queries, len(data)), replace=False)
        queries = data[exclude]
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    k = min(k, len(data) - (1 if exclude is not None else 0))
    truth = exact_truth(exact, queries, k, exclude)

    candidates: list[dict[str, Any]] = []
    best: tuple[dict[str, Any], AnnoyIndex] | None = None
    grid = sorted(n_trees_grid)
    forest_best: list[float] = []  # best recall of each forest built
    for position, n_trees in enumerate(grid):
        if max_search_k is not None and k * n_trees * min(search_k_mults) > max_search_k \
                and best is not None:
            break  # every step of this forest (and of the larger ones) is over the bound
        index = AnnoyIndex.build(data, metric, n_trees=n_trees, seed=seed, n_jobs=n_jobs)
        steps = [k * n_trees * mult for mult in search_k_mults]
        previous = 0
        for search_k in steps:
            if max_search_k is not None and search_k > max_search_k and best is not None:
                break
            row = _try(index, search_k, queries, truth, exclude)
            if row["recall"] >= target_recall and previous:  # refine between the two steps
                middle = _try(index, (previous + search_k) // 2, queries, truth, exclude)
                row = middle if middle["recall"] >= target_recall else row
            candidates.append(row)
            if best is None or _better(row, best[0], target_recall):
                best = (row, index)
            if row["recall"] >= target_recall or search_k >= 4 * len(data):
                break
            previous = search_k
        logger.info("annoy tuning (%s): %d trees, recall@%d %.3f at search_k %d (%.1fs so far)",
                    metric, n_trees, k, candidates[-1]["recall"], candidates[-1]["search_k"],
                    time.perf_counter() - start)
        if candidates[-1]["recall"] >= target_recall and not previous:
            break  # reached at the smallest search_k: bigger forests only cost more
        if early_stop:
            forest_best.append(max(c["recall"] for c in candidates
                                   if c["n_trees"] == n_trees))
            if forest_best[-1] >= target_recall:
                break
            left = len(grid) - position - 1
            if out_of_reach(forest_best, left, target_recall):
                logger.info("annoy tuning (%s): target %.2f out of reach (best recall by "
                            "forest %s, %d forest(s) left): stopping", metric, target_recall,
                            forest_best, left)
                break
    assert best is not None
    row, index = best
    index.params["search_k"] = row["search_k"]
    result = AnnoyTuning(
        n_trees=row["n_trees"], search_k=row["search_k"], recall=row["recall"],
        query_ms=row["query_ms"], reached=row["recall"] >= target_recall,
        target_recall=target_recall, k=k, n_queries=len(queries), metric=metric,
        tuning_seconds=round(time.perf_counter() - start, 3), candidates=candidates,
        index=index,
    )
    index.params["tuning"] = result.as_manifest()
    log = logger.info if result.reached else logger.warning
    log("annoy tuning (%s): n_trees=%d search_k=%d recall@%d=%.3f (target %.2f) in %.1fs",
        metric, result.n_trees, result.search_k, k, result.recall, target_recall,
        result.tuning_seconds)
    return result


def _logit(recall: float) -> float:
    recall = min(max(recall, 1e-4), 1 - 1e-4)
    return float(np.log(recall / (1 - recall)))


def out_of_reach(forest_recalls: Sequence[float], forests_left: int, target: float,
                 margin: float = TREND_MARGIN) -> bool:
    """Whether larger forests cannot be expected to reach ``target`` recall.

    ``forest_recalls`` is the best recall of each forest built so far (ascending sizes; each
    larger forest is also swept to a larger ``search_k``). The trend is the gain in logit
    (``log(r / (1 - r))``, in which recall against log ``search_k`` is roughly a straight line)
    from the previous forest to the last; the target is out of reach when the last recall plus
    ``margin`` times that gain for each of the ``forests_left`` does not reach its logit.
    Two forests at least are needed to see a trend.
    """
    if len(forest_recalls) < 2 or forests_left <= 0:
        return False
    gain = max(_logit(forest_recalls[-1]) - _logit(forest_recalls[-2]), 0.0)
    return _logit(forest_recalls[-1]) + margin * gain * forests_left < _logit(target)


def _try(
    index: AnnoyIndex,
    search_k: int,
    queries: np.ndarray,
    truth: np.ndarray,
    exclude: Sequence[int] | None,
) -> dict[str, Any]:
    """Evaluate ``index`` at ``search_k`` and return a sweep row."""
    index.params["search_k"] = int(search_k)
    recall, seconds = evaluate(index, queries, truth, exclude, repeats=2)
    row = {
        "n_trees": index.params["n_trees"],
        "search_k": int(search_k),
        "recall": round(recall, 4),
        "query_ms": round(seconds * 1e3, 4),
        "build_seconds": index.params["build_seconds"],
        # deterministic work estimate: candidates scored + nodes visited descending the trees
        "cost": int(search_k + index.params["n_trees"] * np.log2(max(len(index), 2))),
    }
    logger.debug("annoy tuning: %s", row)
    return row


def _better(row: dict[str, Any], other: dict[str, Any], target: float) -> bool:
    """Prefer settings reaching the target, then the cheaper one; else the higher recall."""
    ok, other_ok = row["recall"] >= target, other["recall"] >= target
    if ok != other_ok:
        return ok
    if ok:
        return (row["cost"], row["n_trees"]) < (other["cost"], other["n_trees"])
    return row["recall"] > other["recall"]
