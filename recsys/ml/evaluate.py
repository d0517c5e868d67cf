"""Seeded splits and vectorised offline metrics.

Counting rules (honest by construction):

* next-song: every transition ``s_i -> s_{i+1}`` of every held-out playlist is
  one query.  If the seed or the target is unknown to the recommender (never in
  training) the query still counts, as a miss; the number of such queries is
  reported as ``unknown_frac``.  Queries are deduplicated by seed song so
  scoring is one batched matrix product per unique seed.
* continuation: for held-out playlists of length >= 2, seeds are the first
  ``n-1`` songs, the target is the last song (a miss if it is among the seeds).
* coverage: distinct songs appearing in any top-k list of the next-song
  queries, divided by the recommender's catalog size.
* tag coherence: for every catalog song that has tags, the mean Jaccard between
  its tag set and each of its top-k results' tag sets (untagged results count
  0), averaged over seeds.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

from recsys.ml.base import MatrixRecommender
from recsys.ml.topk import FastTopK

Playlists = Sequence[Sequence[int]]
TagSets = Mapping[int, frozenset[int] | set[int]]


def split_playlists(playlists: Playlists, test_frac: float = 0.2,
                    seed: int = 0) -> tuple[list[Sequence[int]], list[Sequence[int]]]:
    """Random split *by playlist* into ``(train, test)``, reproducible for ``seed``."""
    if not 0.0 < test_frac < 1.0:
        raise ValueError(f"test_frac must be in (0, 1), got {test_frac}")
    perm = np.random.default_rng(seed).permutation(len(playlists))
    n_test = int(round(test_frac * len(playlists)))
    test_idx = np.sort(perm[:n_test])
    train_idx = np.sort(perm[n_test:])
    return [playlists[i] for i in train_idx], [playlists[i] for i in test_idx]


def split_train_val_test(playlists: Playlists, val_frac: float = 0.1, test_frac: float = 0.2,
                         seed: int = 0) -> tuple[list, list, list]:
    """Three-way split by playlist; validation and test are disjoint.

    The test part equals ``split_playlists(playlists, test_frac, seed)[1]`` so
    tuning on ``val`` never touches the test playlists of the same seed.
    """
    rest, test = split_playlists(playlists, test_frac, seed)
    train, val = split_playlists(rest, val_frac / (1.0 - test_frac), seed + 10_007)
    return train, val, test


def _lookup(rec: MatrixRecommender, ids: np.ndarray) -> np.ndarray:
    """Vectorised song id -> row (-1 if unknown)."""
    order = np.argsort(rec.item_ids)
    sorted_ids = rec.item_ids[order]
    pos = np.clip(np.searchsorted(sorted_ids, ids), 0, max(len(sorted_ids) - 1, 0))
    found = sorted_ids[pos] == ids if len(sorted_ids) else np.zeros(len(ids), bool)
    return np.where(found, order[pos], -1)


def transitions_of(playlists: Playlists) -> tuple[np.ndarray, np.ndarray]:
    """All ``(s_i, s_{i+1})`` pairs of ``playlists`` as two int arrays."""
    src = [int(p[i]) for p in playlists for i in range(len(p) - 1)]
    dst = [int(p[i + 1]) for p in playlists for i in range(len(p) - 1)]
    return np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)


def rank_metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    """HR/MRR/NDCG@k from 1-based ranks (0 = miss)."""
    n = len(ranks)
    if n == 0:
        return {f"hr@{k}": 0.0, f"mrr@{k}": 0.0, f"ndcg@{k}": 0.0}
    hit = ranks > 0
    safe = np.where(hit, ranks, 1)
    return {f"hr@{k}": float(hit.mean()),
            f"mrr@{k}": float(np.where(hit, 1.0 / safe, 0.0).sum() / n),
            f"ndcg@{k}": float(np.where(hit, 1.0 / np.log2(safe + 1.0), 0.0).sum() / n)}


def next_song_ranks(rec: MatrixRecommender, playlists: Playlists,
                    k: int = 10) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-transition 1-based ranks of the true next song (0 = miss), in the order of
    :func:`transitions_of`; also the top-k rows of each unique known seed and the share of
    queries whose seed or target the recommender does not know."""
    src, dst = transitions_of(playlists)
    src_rows, dst_rows = _lookup(rec, src), _lookup(rec, dst)
    known = src_rows >= 0
    uniq, inv = np.unique(src_rows[known], return_inverse=True)
    top = rec.topk_rows(uniq, k)[0] if len(uniq) else np.empty((0, k), np.int64)
    ranks = np.zeros(len(src), dtype=np.int64)
    if len(uniq):
        eq = top[inv] == dst_rows[known][:, None]
        ranks[known] = np.where(eq.any(axis=1), eq.argmax(axis=1) + 1, 0)
    unknown = float(((src_rows < 0) | (dst_rows < 0)).mean()) if len(src) else 0.0
    return ranks, top, unknown


def next_song_metrics(rec: MatrixRecommender, playlists: Playlists,
                      k: int = 10) -> dict[str, Any]:
    """HR/MRR/NDCG@k over every transition of ``playlists`` plus catalog coverage."""
    return summarize_next_song(*next_song_ranks(rec, playlists, k), rec.n_items, k)


def summarize_next_song(ranks: np.ndarray, top: np.ndarray, unknown_frac: float,
                        n_items: int, k: int = 10) -> dict[str, Any]:
    """The metrics of :func:`next_song_metrics` from :func:`next_song_ranks`' output."""
    out: dict[str, Any] = rank_metrics(ranks, k)
    out.update(n_queries=int(len(ranks)), n_unique_seeds=int(len(top)),
               unknown_frac=unknown_frac,
               coverage=float(len(np.unique(top)) / max(n_items, 1)))
    return out


def continuation_metrics(rec: MatrixRecommender, playlists: Playlists,
                         k: int = 10, max_seeds: int = 50) -> dict[str, float]:
    """First ``n-1`` songs (at most the last ``max_seeds`` of them) -> last song."""
    ranks = continuation_ranks(rec, playlists, k, max_seeds)
    res = rank_metrics(ranks, k)
    return {f"cont_{key}": val for key, val in res.items()} | {"cont_n": len(ranks)}


def continuation_ranks(rec: MatrixRecommender, playlists: Playlists, k: int = 10,
                       max_seeds: int = 50) -> np.ndarray:
    """1-based rank of each playlist's last song among ``rec.recommend(seeds, k)`` of its
    first ``n-1`` songs (at most the last ``max_seeds``; 0 = miss), playlists of length >= 2
    in order. A :class:`~recsys.ml.topk.FastTopK` scorer ranks with ``top_k`` instead of a
    partition of every song (equal scores: lower row first)."""
    fast = (isinstance(rec, FastTopK)
            and type(rec).recommend is MatrixRecommender.recommend)
    ranks = []
    for playlist in playlists:
        if len(playlist) < 2:
            continue
        seeds, target = list(playlist[:-1])[-max_seeds:], int(playlist[-1])
        recs = (_ranked(rec, seeds, k) if fast
                else [s for s, _ in rec.recommend(seeds, k)])
        ranks.append(recs.index(target) + 1 if target in recs else 0)
    return np.asarray(ranks, dtype=np.int64)


def _ranked(rec: Any, seeds: Sequence[int], k: int) -> list[int]:
    """The song ids of ``MatrixRecommender.recommend(seeds, k)``, ranked by ``top_k``."""
    rows = rec.rows_of(dict.fromkeys(int(s) for s in seeds))
    if len(rows) == 0 or k <= 0:
        return []
    scores = rec.score_seeds(rows).astype(np.float64)
    scores[rows] = -np.inf
    return rec.item_ids[rec.top_of_scores(scores, k)].tolist()


def jaccard(a: frozenset[int] | set[int], b: frozenset[int] | set[int]) -> float:
    """Jaccard index; two empty sets give 0."""
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def tag_coherence(rec: MatrixRecommender, tags: TagSets, k: int = 10,
                  seeds: Collection[int] | None = None) -> float:
    """Mean Jaccard(seed tags, result tags) over catalog seeds that have tags (only those in
    ``seeds`` when given: two models compared on the same seed songs)."""
    values = tag_coherence_per_seed(rec, tags, k, seeds)[1]
    return float(values.mean()) if len(values) else float("nan")


def stable_sample(ids: Collection[int], max_n: int) -> list[int]:
    """At most ``max_n`` of ``ids`` (ascending), the same ones in every run: those with the
    lowest CRC32 of their decimal text, so a set that grows keeps most of its sample."""
    ids = sorted({int(i) for i in ids})
    if len(ids) <= max_n:
        return ids
    return sorted(sorted(ids, key=lambda i: (zlib.crc32(str(i).encode()), i))[:max_n])


def tag_coherence_per_seed(rec: MatrixRecommender, tags: TagSets, k: int = 10,
                           seeds: Collection[int] | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Seed song ids (ascending) and each one's mean Jaccard with its top-k results' tags."""
    seed_rows = np.array([i for i, s in enumerate(rec.item_ids) if tags.get(int(s))
                          and (seeds is None or int(s) in seeds)], dtype=np.int64)
    if len(seed_rows) == 0:
        return np.empty(0, np.int64), np.empty(0)
    top = rec.topk_rows(seed_rows, k)[0]
    empty: frozenset[int] = frozenset()
    item_tags = [tags.get(int(s), empty) for s in rec.item_ids]
    values = np.empty(len(seed_rows))
    for i, (seed, row) in enumerate(zip(seed_rows, top, strict=True)):
        st = item_tags[seed]
        values[i] = sum(jaccard(st, item_tags[j]) for j in row) / len(row)
    ids = np.asarray(rec.item_ids)[seed_rows]
    order = np.argsort(ids, kind="stable")
    return ids[order], values[order]


def evaluate(name: str, rec: MatrixRecommender, test: Playlists, k: int = 10,
             tags: TagSets | None = None, continuation: bool = True,
             extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """All metrics for one recommender as a flat JSON-serialisable dict."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {"method": name, **(extra or {})}
    row.update(next_song_metrics(rec, test, k))
    if continuation:
        row.update(continuation_metrics(rec, test, k))
    if tags is not None:
        row["tag_coherence"] = tag_coherence(rec, tags, k)
    row["eval_s"] = round(time.perf_counter() - t0, 3)
    return row


def format_table(results: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
                 markdown: bool = True) -> str:
    """Render result dicts as a markdown (or plain) table; floats to 4 decimals."""
    if not results:
        return ""
    cols = list(columns) if columns else list(dict.fromkeys(k for r in results for k in r))

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.4f}"
        return str(v)

    rows = [[fmt(r.get(c, "")) for c in cols] for r in results]
    if markdown:
        lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
