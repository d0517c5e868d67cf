"""Counting baselines (sparse, scipy) sharing the :class:`MatrixRecommender` interface."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np
import scipy.sparse as sp

from recsys.ml.base import MatrixRecommender

TIE_BREAK = 1e-6
"""Weight of normalised popularity added to count scores so ties (and empty rows)
are filled with popular songs instead of arbitrary ones."""


def item_index(playlists: Iterable[Sequence[int]]) -> np.ndarray:
    """Sorted unique song ids occurring in ``playlists``."""
    ids = np.unique(np.fromiter((int(s) for p in playlists for s in p), dtype=np.int64))
    return ids


def _flatten(playlists: Iterable[Sequence[int]],
             row_of: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate playlists into (item_rows, playlist_no); unknown songs become -1."""
    rows: list[int] = []
    pids: list[int] = []
    for pid, playlist in enumerate(playlists):
        rows.extend(row_of.get(int(s), -1) for s in playlist)
        pids.extend([pid] * len(playlist))
    return np.asarray(rows, dtype=np.int64), np.asarray(pids, dtype=np.int64)


def popularity_counts(playlists: Iterable[Sequence[int]], row_of: Mapping[int, int],
                      n_items: int) -> np.ndarray:
    """Occurrences of each item row."""
    rows, _ = _flatten(playlists, row_of)
    return np.bincount(rows[rows >= 0], minlength=n_items).astype(np.float64)


def pair_matrix(playlists: Iterable[Sequence[int]], row_of: Mapping[int, int], n_items: int,
                window: int = 1, directed: bool = True) -> sp.csr_matrix:
    """Count ordered pairs ``(s_i, s_{i+d})`` for ``1 <= d <= window`` within playlists.

    ``directed=False`` also counts ``(s_{i+d}, s_i)``.  The diagonal is zeroed.
    """
    rows, pids = _flatten(playlists, row_of)
    src_all, dst_all = [], []
    for d in range(1, window + 1):
        ok = (pids[:-d] == pids[d:]) & (rows[:-d] >= 0) & (rows[d:] >= 0)
        src_all.append(rows[:-d][ok])
        dst_all.append(rows[d:][ok])
    src = np.concatenate(src_all) if src_all else np.empty(0, np.int64)
    dst = np.concatenate(dst_all) if dst_all else np.empty(0, np.int64)
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    keep = src != dst
    mat = sp.coo_matrix((np.ones(int(keep.sum()), np.float32), (src[keep], dst[keep])),
                        shape=(n_items, n_items)).tocsr()
    mat.sum_duplicates()
    return mat


def cooccurrence_matrix(playlists: Iterable[Sequence[int]], row_of: Mapping[int, int],
                        n_items: int, window: int = 0, repeats: bool = False) -> sp.csr_matrix:
    """Symmetric co-occurrence counts.

    ``window=0``: number of playlists containing both songs (whole-playlist); with
    ``repeats``, pairs of plays instead: ``sum_p n_p(a) * n_p(b)`` (a song played 3 times
    and another played twice in one playlist add 6).
    ``window>0``: pairs at distance ``<= window`` in either direction.
    """
    if window > 0:
        return pair_matrix(playlists, row_of, n_items, window=window, directed=False)
    rows, pids = _flatten(playlists, row_of)
    ok = rows >= 0
    inc = sp.coo_matrix((np.ones(int(ok.sum()), np.float32), (pids[ok], rows[ok])),
                        shape=(int(pids.max()) + 1 if len(pids) else 0, n_items)).tocsr()
    if not repeats:
        inc.data[:] = 1.0  # binary incidence: repeated songs count once per playlist
    co = (inc.T @ inc).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    return co


class PopularityRecommender(MatrixRecommender):
    """Most played songs first, whatever the seed."""

    name = "popularity"

    def __init__(self, playlists: Sequence[Sequence[int]]) -> None:
        super().__init__(item_index(playlists))
        self.counts = popularity_counts(playlists, self._row, self.n_items)
        self._log = np.log1p(self.counts).astype(np.float32)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._log, (len(rows), self.n_items))

    def recommend(self, seeds: Sequence[int], k: int,
                  exclude: Collection[int] = ()) -> list[tuple[int, float]]:
        """The most played songs; seeds are only excluded (unknown seeds need no row)."""
        if k <= 0:
            return []
        scores = self._log.astype(np.float64)
        scores[np.concatenate([self.rows_of(seeds), self.rows_of(exclude)])] = -np.inf
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.item_ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]


class CountRecommender(MatrixRecommender):
    """Scores = sparse count row of the seed, popularity as a tie-breaker."""

    name = "counts"

    def __init__(self, item_ids: np.ndarray, matrix: sp.csr_matrix,
                 pop_counts: np.ndarray) -> None:
        super().__init__(item_ids)
        self.matrix = matrix.tocsr()
        # float64: in float32 the tie-break vanishes next to counts >= ~8 (eps(8) ~ 1e-6)
        self._tie = TIE_BREAK * pop_counts.astype(np.float64) / max(pop_counts.max(), 1.0)

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.matrix[rows].toarray().astype(np.float64) + self._tie

    def score_seeds(self, rows: np.ndarray) -> np.ndarray:
        """Several seeds: the sum of ``log1p`` counts (the best count model for sessions on
        validation, docs/ml.md "Session-based next-song protocol"; a raw sum lets one
        heavily played seed drown the others)."""
        counts = self.matrix[rows].toarray().astype(np.float64)
        return np.log1p(counts).sum(axis=0) + self._tie


def transition_recommender(playlists: Sequence[Sequence[int]]) -> CountRecommender:
    """Directed first-order transition counts ``s_i -> s_{i+1}``."""
    ids = item_index(playlists)
    row_of = {int(s): i for i, s in enumerate(ids)}
    rec = CountRecommender(ids, pair_matrix(playlists, row_of, len(ids), window=1),
                           popularity_counts(playlists, row_of, len(ids)))
    rec.name = "transitions"
    return rec


def cooccurrence_recommender(playlists: Sequence[Sequence[int]], window: int = 0,
                             repeats: bool = False) -> CountRecommender:
    """Within-playlist (``window=0``) or windowed co-occurrence counts; ``repeats``: pairs of
    plays instead of playlists holding both songs (see :func:`cooccurrence_matrix`)."""
    ids = item_index(playlists)
    row_of = {int(s): i for i, s in enumerate(ids)}
    matrix = cooccurrence_matrix(playlists, row_of, len(ids), window, repeats=repeats)
    rec = CountRecommender(ids, matrix, popularity_counts(playlists, row_of, len(ids)))
    rec.name = "cooccurrence" if window == 0 else f"cooccurrence_w{window}"
    if repeats:
        rec.name += "_plays"
    return rec
