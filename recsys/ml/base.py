"""The recommender interface shared by baselines and word2vec scorers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Recommender(Protocol):
    """Anything that turns seed songs into ranked ``(song_id, score)`` pairs."""

    def recommend(self, seeds: Sequence[int], k: int,
                  exclude: Collection[int] = ()) -> list[tuple[int, float]]:
        """Top-``k`` songs for ``seeds`` (seeds and ``exclude`` never returned)."""
        ...


class MatrixRecommender:
    """Base class: a recommender that can score every catalog item for a seed row.

    Subclasses implement :meth:`score_rows`, returning one dense score row per
    *single* seed.  Several seeds are combined by summing their score rows
    (for cosine scorers that is the cosine with the mean unit vector, up to scale).
    Seeds unknown to the model are ignored; if none is known the result is empty.
    """

    name = "matrix"

    def __init__(self, item_ids: Iterable[int]) -> None:
        self.item_ids = np.asarray(list(item_ids) if not isinstance(item_ids, np.ndarray)
                                   else item_ids, dtype=np.int64)
        self._row = {int(s): i for i, s in enumerate(self.item_ids)}

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def rows_of(self, song_ids: Iterable[int]) -> np.ndarray:
        """Rows of the known song ids (unknown ids are dropped)."""
        rows = [self._row.get(int(s)) for s in song_ids]
        return np.array([r for r in rows if r is not None], dtype=np.int64)

    def row_of(self, song_id: int) -> int | None:
        return self._row.get(int(song_id))

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Dense ``(len(rows), n_items)`` float scores, one row per single seed."""
        raise NotImplementedError

    def score_seeds(self, rows: np.ndarray) -> np.ndarray:
        """One ``(n_items,)`` score row for several seed rows; default: the sum of their rows."""
        return self.score_rows(rows).sum(axis=0)

    def recommend(self, seeds: Sequence[int], k: int,
                  exclude: Collection[int] = ()) -> list[tuple[int, float]]:
        rows = self.rows_of(dict.fromkeys(int(s) for s in seeds))  # a repeat counts once,
        if len(rows) == 0 or k <= 0:  # as the server counts it
            return []
        scores = self.score_seeds(rows).astype(np.float64)
        banned = np.concatenate([rows, self.rows_of(exclude)])
        scores[banned] = -np.inf
        top = _topk_1d(scores, k)
        return [(int(self.item_ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]

    def topk_rows(self, rows: np.ndarray, k: int,
                  chunk: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Batch path for evaluation: top-``k`` item rows per single seed row.

        The seed itself is excluded.  Returns ``(item_rows, scores)``, both
        ``(len(rows), k)``, best first.  Seeds are scored ``chunk`` at a time (default:
        as many as keep a dense block within ``CHUNK_CELLS`` scores, at most 1024), so
        memory does not grow with the catalog times a fixed number of seeds.
        """
        rows = np.asarray(rows, dtype=np.int64)
        k = min(k, self.n_items - 1)
        chunk = chunk or chunk_rows(self.n_items)
        out_idx = np.empty((len(rows), k), dtype=np.int64)
        out_sc = np.empty((len(rows), k), dtype=np.float32)
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            raw = self.score_rows(part)
            # float64 scores stay float64: count scores carry a 1e-6 popularity tie-break
            # that float32 cannot represent on top of counts >= ~8
            scores = np.array(raw, dtype=np.result_type(raw.dtype, np.float32), copy=True)
            scores[np.arange(len(part)), part] = -np.inf
            idx = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            sc = np.take_along_axis(scores, idx, axis=1)
            order = np.argsort(-sc, axis=1, kind="stable")
            out_idx[start:start + len(part)] = np.take_along_axis(idx, order, axis=1)
            out_sc[start:start + len(part)] = np.take_along_axis(sc, order, axis=1)
        return out_idx, out_sc

    def topk_ids(self, rows: np.ndarray, k: int) -> np.ndarray:
        """Like :meth:`topk_rows` but returns song ids."""
        idx, _ = self.topk_rows(rows, k)
        return self.item_ids[idx]


#: Scores per dense block of :meth:`MatrixRecommender.topk_rows` (2**23: 32 MB of float32;
#: the block's float64 copies, sparse ``toarray`` rows and ``argpartition`` indices are a few
#: times that). 1,024 seeds a block made 8 GB at 250,000 songs.
CHUNK_CELLS = 1 << 23


def chunk_rows(n_items: int, max_rows: int = 1024) -> int:
    """Seeds per block of :meth:`MatrixRecommender.topk_rows` for ``n_items`` songs."""
    return max(1, min(max_rows, CHUNK_CELLS // max(n_items, 1)))


def _topk_1d(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    idx = np.argpartition(-scores, k - 1)[:k]
    return idx[np.argsort(-scores[idx], kind="stable")]
