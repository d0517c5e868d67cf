"""Exact (brute-force) index: one BLAS matrix-vector product plus ``argpartition``.

Used for tests, small catalogs and as ground truth when tuning approximate indexes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from recsys.index.base import VectorIndex, check_metric, check_vectors, logger


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit L2 norm (all-zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of a 1-D array, best first."""
    k = min(k, scores.shape[0])
    if k < scores.shape[0]:
        part = np.argpartition(-scores, k - 1)[:k]
    else:
        part = np.arange(scores.shape[0])
    order = part[np.argsort(-scores[part], kind="stable")]
    return order, scores[order]


class ExactIndex(VectorIndex):
    """Brute-force search over an in-memory or memory-mapped float32 matrix."""

    backend = "exact"
    mmap_supported = True

    def __init__(self, vectors: np.ndarray, metric: str, params: dict[str, Any]) -> None:
        super().__init__(metric, vectors.shape[1], vectors.shape[0], params)
        self._vectors = vectors

    @property
    def vectors(self) -> np.ndarray:
        """Stored (read-only view of the) item matrix; rows are unit length for cosine."""
        return self._vectors

    @classmethod
    def build(cls, vectors: np.ndarray, metric: str, **params: Any) -> ExactIndex:
        """Copy ``vectors`` (normalised for cosine). Accepts no parameters."""
        check_metric(metric)
        if params:
            raise ValueError(f"exact index takes no parameters, got {sorted(params)}")
        start = time.perf_counter()
        data = check_vectors(vectors)
        data = normalize_rows(data) if metric == "cosine" else data.copy()
        data.flags.writeable = False
        seconds = time.perf_counter() - start
        logger.info("built exact %s index over %d x %d in %.2fs", metric, *data.shape, seconds)
        return cls(data, metric, {"build_seconds": round(seconds, 4)})

    def _save_data(self, prefix: Path) -> list[Path]:
        path = Path(f"{prefix}.npy")
        np.save(path, np.asarray(self._vectors), allow_pickle=False)
        return [path]

    @classmethod
    def _load_data(cls, prefix: Path, meta: dict[str, Any], mmap: bool) -> ExactIndex:
        path = Path(f"{prefix}.npy")
        if not path.is_file():
            raise FileNotFoundError(f"missing exact index data file {path}")
        data = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        if data.shape != (meta["size"], meta["dim"]) or data.dtype != np.float32:
            raise ValueError(f"{path}: shape/dtype {data.shape}/{data.dtype} do not match metadata")
        return cls(data, meta["metric"], meta.get("params", {}))

    def item_vector(self, position: int) -> np.ndarray:
        """Stored row ``position`` (unit length for cosine)."""
        return np.array(self._vectors[int(position)], dtype=np.float32)

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """Scores of every item for one query ``(dim,)`` or a batch ``(m, dim)``."""
        queries = np.asarray(queries, dtype=np.float32)
        if self.metric == "cosine":
            queries = normalize_rows(queries)
        return queries @ self._vectors.T if queries.ndim == 2 else self._vectors @ queries

    def _search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        return top_k(self.scores(query), n)

    def query_batch(
        self, queries: np.ndarray, k: int, chunk: int = 256
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k for many queries at once (matrix-matrix product in chunks).

        Returns:
            ``(positions (m, k) int64, scores (m, k) float32)``, each row best first.
        """
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.dim:
            raise ValueError(f"queries have dimension {queries.shape[1]}, index has {self.dim}")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        k = min(int(k), len(self))
        pos = np.empty((len(queries), k), np.int64)
        val = np.empty((len(queries), k), np.float32)
        for start in range(0, len(queries), chunk):
            block = self.scores(queries[start : start + chunk])
            part = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < len(self) else None
            if part is None:
                part = np.broadcast_to(np.arange(len(self)), block.shape).copy()
            part_scores = np.take_along_axis(block, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            pos[start : start + chunk] = np.take_along_axis(part, order, axis=1)
            val[start : start + chunk] = np.take_along_axis(part_scores, order, axis=1)
        return pos, val
