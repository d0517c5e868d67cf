"""Counting baselines (sparse, scipy) sharing the :class:`MatrixRecommender` interface."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import chain

import numpy as np
import scipy.sparse as sp

from recsys.ml.base import MatrixRecommender

TIE_BREAK = 1e-6
"""Weight of normalised popularity added to count scores so ties (and empty rows)
are filled with popular songs instead of arbitrary ones."""


def _as_sequence(playlists: Iterable[Sequence[int]]) -> Sequence[Sequence[int]]:
    return playlists if isinstance(playlists, Sequence) else list(playlists)


def _songs(playlists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Every song id of ``playlists`` in order, and each playlist's length (no Python loop
    per item: 5.7M items took 20 s per call through a dict look-up each)."""
    lengths = np.fromiter((len(p) for p in playlists), dtype=np.int64, count=len(playlists))
    songs = np.fromiter(chain.from_iterable(playlists), dtype=np.int64,
                        count=int(lengths.sum()))
    return songs, lengths


def item_index(playlists: Iterable[Sequence[int]]) -> np.ndarray:
    """Sorted unique song ids occurring in ``playlists``."""
    return np.unique(_songs(_as_sequence(playlists))[0])


def _map_rows(songs: np.ndarray, row_of: Mapping[int, int]) -> np.ndarray:
    """``row_of[song]`` of each song, -1 for songs it lacks (a binary search per song)."""
    if not row_of:
        return np.full(len(songs), -1, np.int64)
    keys = np.fromiter(row_of.keys(), dtype=np.int64, count=len(row_of))
    values = np.fromiter(row_of.values(), dtype=np.int64, count=len(row_of))
    order = np.argsort(keys, kind="stable")
    keys, values = keys[order], values[order]
    pos = np.minimum(np.searchsorted(keys, songs), len(keys) - 1)
    return np.where(keys[pos] == songs, values[pos], -1)


def _flatten(playlists: Iterable[Sequence[int]],
             row_of: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate playlists into (item_rows, playlist_no); unknown songs become -1."""
    songs, lengths = _songs(_as_sequence(playlists))
    return _map_rows(songs, row_of), np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)


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


def _best_first(cols: np.ndarray, vals: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best ``(cols, vals)``, best first, equal values by the lower column."""
    if len(cols) > k:  # every entry as good as the k-th, then the exact order among them
        kth = np.partition(vals, len(vals) - k)[len(vals) - k]
        keep = vals >= kth
        cols, vals = cols[keep], vals[keep]
    order = np.lexsort((cols, -vals))[:k]
    return cols[order], vals[order]


def _fill(order: np.ndarray, need: int, taken: np.ndarray) -> np.ndarray:
    """The first ``need`` entries of ``order`` not in ``taken``."""
    if need <= 0:
        return order[:0]
    head = order[:need + len(taken)]
    return head[~np.isin(head, taken)][:need]


class PopularityRecommender(MatrixRecommender):
    """Most played songs first, whatever the seed."""

    name = "popularity"

    def __init__(self, playlists: Sequence[Sequence[int]]) -> None:
        super().__init__(item_index(playlists))
        self.counts = popularity_counts(playlists, self._row, self.n_items)
        self._log = np.log1p(self.counts).astype(np.float32)
        # most played first, equal counts by the lower row (the order recommend() always had)
        self._order = np.argsort(-self._log.astype(np.float64), kind="stable")

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._log, (len(rows), self.n_items))

    def recommend(self, seeds: Sequence[int], k: int,
                  exclude: Collection[int] = ()) -> list[tuple[int, float]]:
        """The most played songs; seeds are only excluded (unknown seeds need no row)."""
        if k <= 0:
            return []
        banned = np.concatenate([self.rows_of(seeds), self.rows_of(exclude)])
        top = _fill(self._order, k, banned)
        return [(int(self.item_ids[i]), float(self._log[i])) for i in top]

    def topk_rows(self, rows: np.ndarray, k: int,
                  chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The most played songs but the seed, for each seed row (no dense block: the list is
        the same for every seed)."""
        rows = np.asarray(rows, dtype=np.int64)
        k = min(k, self.n_items - 1)
        out = np.empty((len(rows), k), dtype=np.int64)
        head = self._order[:k + 1]
        for i, seed in enumerate(rows.tolist()):
            out[i] = head[head != seed][:k]
        return out, self._log[out]


class CountRecommender(MatrixRecommender):
    """Scores = sparse count row of the seed, popularity as a tie-breaker.

    Every count is at least 1 (it counts pairs or playlists), far above the tie-break
    (≤ ``TIE_BREAK``), so a seed's top k are its non-zero entries, then the most played of the
    others: :meth:`topk_rows` and :meth:`recommend` read the seed's sparse row and the
    popularity order instead of scoring and partitioning a dense row of every song (284 s of
    a 250,000-song run's evaluation; docs/benchmarks.md §19). Equal scores go to the lower row.
    """

    name = "counts"

    def __init__(self, item_ids: np.ndarray, matrix: sp.csr_matrix,
                 pop_counts: np.ndarray) -> None:
        super().__init__(item_ids)
        self.matrix = matrix.tocsr()
        self.matrix.sum_duplicates()  # sorted, one entry per column
        # float64: in float32 the tie-break vanishes next to counts >= ~8 (eps(8) ~ 1e-6)
        self._tie = TIE_BREAK * pop_counts.astype(np.float64) / max(pop_counts.max(), 1.0)
        self._order = np.argsort(-self._tie, kind="stable")
        # the sparse paths need every stored count above the tie-break's whole range
        self._sparse = self.matrix.nnz == 0 or float(self.matrix.data.min()) > TIE_BREAK

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.matrix[rows].toarray().astype(np.float64) + self._tie

    def score_seeds(self, rows: np.ndarray) -> np.ndarray:
        """Several seeds: the sum of ``log1p`` counts (the best count model for sessions on
        validation, docs/ml.md "Session-based next-song protocol"; a raw sum lets one
        heavily played seed drown the others)."""
        counts = self.matrix[rows].toarray().astype(np.float64)
        return np.log1p(counts).sum(axis=0) + self._tie

    def _top(self, cols: np.ndarray, counts: np.ndarray, k: int,
             banned: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` of a sparse score row (``counts`` at ``cols``, 0 elsewhere) plus the
        tie-break, ``banned`` rows left out: its best entries, then the most played others."""
        keep = ~np.isin(cols, banned)
        cols, vals = _best_first(cols[keep], counts[keep] + self._tie[cols[keep]], k)
        fill = _fill(self._order, k - len(cols), np.concatenate([cols, banned]))
        return np.concatenate([cols, fill]), np.concatenate([vals, self._tie[fill]])

    def topk_rows(self, rows: np.ndarray, k: int,
                  chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        if not self._sparse:
            return super().topk_rows(rows, k, chunk)
        rows = np.asarray(rows, dtype=np.int64)
        k = min(k, self.n_items - 1)
        out_idx = np.empty((len(rows), k), dtype=np.int64)
        out_sc = np.empty((len(rows), k), dtype=np.float32)
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        for i, seed in enumerate(rows.tolist()):
            a, b = indptr[seed], indptr[seed + 1]
            out_idx[i], out_sc[i] = self._top(indices[a:b].astype(np.int64),
                                              data[a:b].astype(np.float64), k,
                                              np.array([seed], np.int64))
        return out_idx, out_sc

    def recommend(self, seeds: Sequence[int], k: int,
                  exclude: Collection[int] = ()) -> list[tuple[int, float]]:
        if not self._sparse:
            return super().recommend(seeds, k, exclude)
        rows = self.rows_of(dict.fromkeys(int(s) for s in seeds))
        if len(rows) == 0 or k <= 0:
            return []
        indptr, indices, data = self.matrix.indptr, self.matrix.indices, self.matrix.data
        cols = np.concatenate([indices[indptr[r]:indptr[r + 1]] for r in rows.tolist()])
        logs = np.log1p(np.concatenate([data[indptr[r]:indptr[r + 1]]
                                        for r in rows.tolist()]).astype(np.float64))
        # summed in seed order, as score_seeds' dense sum over its rows adds them
        cols, inverse = np.unique(cols, return_inverse=True)
        sums = np.bincount(inverse, weights=logs, minlength=len(cols))
        banned = np.concatenate([rows, self.rows_of(exclude)])
        top, vals = self._top(cols.astype(np.int64), sums, k, banned)
        return [(int(self.item_ids[i]), float(v)) for i, v in zip(top, vals, strict=True)]


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
