"""Offline metrics of a trained model or of a served bundle, on the same held-out playlists.

A bundle is wrapped as :class:`~recsys.ml.base.MatrixRecommender` whose dense scores are the
served formulas (:mod:`recsys.recommend.model`), so production and candidate bundles are
measured by the same code as the offline evaluation of ``recsys.ml``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from recsys.ml.base import MatrixRecommender
from recsys.ml.compare import BASELINES, baseline_rows
from recsys.ml.evaluate import (
    continuation_metrics,
    next_song_metrics,
    next_song_ranks,
    summarize_next_song,
    tag_coherence_per_seed,
)
from recsys.ml.topk import FastTopK
from recsys.recommend.model import SCORE_BLOCK, ServingModel

Playlists = Sequence[Sequence[int]]


class BundleSimilar(FastTopK, MatrixRecommender):
    """``similar`` scores of a served bundle: cosine between input vectors."""

    name = "bundle_similar"

    def __init__(self, model: ServingModel) -> None:
        super().__init__(np.asarray(model.song_ids))
        vecs = np.asarray(model.in_vectors, dtype=np.float32)
        self.unit = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.unit[rows] @ self.unit.T


class BundleNext(FastTopK, MatrixRecommender):
    """``next`` scores of a served bundle: the server's formulas (``next_score_matrix`` for
    one seed, ``next_scores`` of every song for several), the same float operations in the
    same order, but the count terms only where a count is stored.

    The server's dense path takes ``log1p`` of every song's count for each seed (zero for
    all but ≈0.05% of them at 250,000 songs) and adds the resulting zeros; here only the
    seeds' stored counts are read and added where they belong (x + 0 is x: the same scores,
    up to the sign of a zero score). Tables in another form than canonical CSR (duplicate
    entries) are read as the server reads them.
    """

    name = "bundle_next"

    def __init__(self, model: ServingModel) -> None:
        super().__init__(np.asarray(model.song_ids))
        self.m = model
        #: (weight, table) of each weighted count term, as the server sums them
        self.terms = [(weight, table) for weight, table in (
            (model.transition_weight, model.transitions),
            (model.cooc_weight, model.cooc_scoring)) if weight]
        self.sparse = all(table.has_canonical_format for _, table in self.terms)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        """``next_score_matrix(rows)``: blocks of ``SCORE_BLOCK`` seeds, as the server."""
        m, seeds = self.m, np.asarray(rows, dtype=np.int64)
        if not self.sparse:
            return m.next_score_matrix(seeds)
        out = np.empty((len(seeds), len(m)), dtype=np.float32)
        for start in range(0, len(seeds), SCORE_BLOCK):
            part = seeds[start:start + SCORE_BLOCK]
            block = out[start:start + len(part)]  # written in place: no copy of the block
            np.matmul(np.asarray(m.in_vectors[part]), m.out_vectors.T, out=block)
            if m.w2v_weight != 1.0:  # 1.0 * x is x
                np.multiply(m.w2v_weight, block, out=block)
            block += m.pop_term
            for weight, table in self.terms:
                at, entries = stored(table, part)
                block[at, table.indices[entries]] += weight * np.log1p(table.data[entries])
        return out

    def score_seeds(self, rows: np.ndarray) -> np.ndarray:
        """Several seeds (continuation): ``next_scores(rows, every song)``, each count term's
        ``log1p`` summed seed by seed (the order of the dense rows' ``sum(axis=0)``)."""
        m, seeds = self.m, np.asarray(rows, dtype=np.int64)
        terms = [m.w2v_weight * (m.out_vectors @ m._mean_in(seeds)), m.pop_term]
        if not self.sparse:
            for weight, table in self.terms:
                terms.append(weight * np.log1p(dense_rows(table, seeds)).sum(axis=0))
            return np.asarray(sum(terms), dtype=np.float32)
        scores = sum(terms)
        for weight, table in self.terms:
            total = np.zeros(len(m), dtype=np.log1p(table.data[:0]).dtype)
            touched = []
            for s in seeds.tolist():  # seed by seed: each column summed in the same order
                a, b = int(table.indptr[s]), int(table.indptr[s + 1])
                total[table.indices[a:b]] += np.log1p(table.data[a:b])
                touched.append(table.indices[a:b])
            cols = np.concatenate(touched or [np.empty(0, np.int64)])  # twice: same value
            scores[cols] = scores[cols] + weight * total[cols]
        return np.asarray(scores, dtype=np.float32)


def dense_rows(table, seeds: np.ndarray) -> np.ndarray:
    """Dense ``table[seeds]`` (``len(seeds) x n``, the table's dtype): what ``gather`` of
    every column gives, from the CSR arrays."""
    indptr, indices, data = table.indptr, table.indices, table.data
    out = np.zeros((len(seeds), table.shape[1]), dtype=data.dtype)
    for i, s in enumerate(seeds.tolist()):
        out[i, indices[indptr[s]:indptr[s + 1]]] = data[indptr[s]:indptr[s + 1]]
    return out


def stored(table, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stored entries of ``table``'s rows ``seeds``: each one's position in ``seeds`` and
    its index into ``table.data`` / ``table.indices``."""
    starts = np.asarray(table.indptr[seeds], dtype=np.int64)
    lengths = np.asarray(table.indptr[seeds + 1], dtype=np.int64) - starts
    at = np.repeat(np.arange(len(seeds)), lengths)
    entries = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return at, entries + np.repeat(starts, lengths)


def recommender_metrics(similar: MatrixRecommender, nxt: MatrixRecommender, holdout: Playlists,
                        tags: Mapping[int, frozenset[int]] | None, k: int = 10,
                        tag_seeds: Collection[int] | None = None,
                        per_query: bool = False) -> dict[str, Any]:
    """Metrics of both modes on ``holdout``: next-song and continuation for ``next``,
    tag coherence (over ``tag_seeds`` if given, else every tagged song of the model) and
    next-song, for reference, for ``similar``.

    With ``per_query`` the result also holds ``"per_query"``: the ``next`` rank of every
    held-out transition and the tag coherence of every seed song (arrays, for paired
    comparisons; not JSON).
    """
    ranks, top, unknown = next_song_ranks(nxt, holdout, k)
    next_row = summarize_next_song(ranks, top, unknown, nxt.n_items, k)
    next_row.update(continuation_metrics(nxt, holdout, k))
    similar_row = next_song_metrics(similar, holdout, k)
    detail: dict[str, Any] = {"next_ranks": ranks}
    if tags:
        seeds, values = tag_coherence_per_seed(similar, tags, k, seeds=tag_seeds)
        similar_row["tag_coherence"] = float(values.mean()) if len(values) else float("nan")
        detail.update(tag_seeds=seeds, tag_values=values)
    out = {"holdout_playlists": len(holdout), "next": next_row, "similar": similar_row}
    if per_query:
        out["per_query"] = detail
    return out


#: Metrics kept per counting baseline (the ``next`` ones that compare with the model's).
BASELINE_METRICS = ("hr@10", "mrr@10", "ndcg@10", "cont_hr@10", "coverage")


def baseline_metrics(train: Playlists, holdout: Playlists, next_hr: float | None = None,
                     k: int = 10) -> dict[str, Any]:
    """The counting baselines fitted on ``train`` and scored on ``holdout``.

    Returns ``{"popularity": {...}, "transitions": {...}, "cooccurrence": {...},
    "cooccurrence_plays": {...}}`` and, given
    the model's ``next`` HR@k, ``next_hr_over_best``: the ratio an operator reads first.
    """
    keep = tuple(m.replace("@10", f"@{k}") for m in BASELINE_METRICS)
    out: dict[str, Any] = {row["method"]: {key: row[key] for key in keep if key in row}
                           for row in baseline_rows(train, holdout, k=k)}
    best = max(out[name][f"hr@{k}"] for name in BASELINES)
    if next_hr is not None and best > 0:
        out["next_hr_over_best"] = next_hr / best
    return out


def bundle_metrics(model: ServingModel, holdout: Playlists,
                   tags: Mapping[int, frozenset[int]] | None, k: int = 10,
                   tag_seeds: Collection[int] | None = None,
                   per_query: bool = False) -> dict[str, Any]:
    """Metrics of a served bundle on ``holdout`` (see :func:`recommender_metrics`)."""
    return recommender_metrics(BundleSimilar(model), BundleNext(model), holdout, tags, k,
                               tag_seeds, per_query)
