"""Optional hnswlib backend (HNSW graph). Needs ``hnswlib``; not memory-mapped.

Metric mapping: ``cosine`` uses hnswlib ``cosine`` (distance ``1 - cos``), ``dot`` uses
``ip`` (distance ``1 - dot``); both are reported back as similarities.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from recsys.index.base import VectorIndex, check_metric, check_vectors, logger

HNSW_SPACES = {"cosine": "cosine", "dot": "ip"}


def _hnswlib() -> Any:
    try:
        import hnswlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the 'hnsw' index backend needs: pip install hnswlib") from exc
    return hnswlib


class HnswIndex(VectorIndex):
    """Approximate index on top of ``hnswlib.Index``.

    Params:
        M: graph degree (memory ~ ``n * M * 8`` bytes on top of the vectors).
        ef_construction: build-time beam width.
        ef: query-time beam width (raised to ``k`` when smaller).
        seed: random seed.
    """

    backend = "hnsw"
    mmap_supported = False

    def __init__(self, index: Any, metric: str, params: dict[str, Any]) -> None:
        super().__init__(metric, index.dim, index.get_current_count(), params)
        self._index = index
        self._index.set_num_threads(1)

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        metric: str,
        M: int = 16,  # noqa: N803 - hnswlib's name
        ef_construction: int = 200,
        ef: int = 50,
        seed: int = 42,
        n_jobs: int = -1,
    ) -> HnswIndex:
        """Build an HNSW graph over ``vectors``."""
        hnswlib = _hnswlib()
        check_metric(metric)
        data = check_vectors(vectors)
        n, dim = data.shape
        start = time.perf_counter()
        index = hnswlib.Index(space=HNSW_SPACES[metric], dim=dim)
        index.init_index(max_elements=n, ef_construction=ef_construction, M=M, random_seed=seed)
        logger.info("hnsw: adding %d x %d (%s, M=%d, ef_c=%d)", n, dim, metric, M, ef_construction)
        index.add_items(data, np.arange(n), num_threads=n_jobs)
        seconds = time.perf_counter() - start
        logger.info("hnsw: built in %.1fs", seconds)
        params = {
            "M": int(M),
            "ef_construction": int(ef_construction),
            "ef": int(ef),
            "seed": int(seed),
            "build_seconds": round(seconds, 3),
        }
        return cls(index, metric, params)

    def _save_data(self, prefix: Path) -> list[Path]:
        path = Path(f"{prefix}.hnsw")
        self._index.save_index(str(path))
        return [path]

    @classmethod
    def _load_data(cls, prefix: Path, meta: dict[str, Any], mmap: bool) -> HnswIndex:
        path = Path(f"{prefix}.hnsw")
        if not path.is_file():
            raise FileNotFoundError(f"missing hnsw index file {path}")
        index = _hnswlib().Index(space=HNSW_SPACES[check_metric(meta["metric"])], dim=meta["dim"])
        index.load_index(str(path), max_elements=int(meta["size"]))  # read fully into RAM
        return cls(index, meta["metric"], meta.get("params", {}))

    def item_vector(self, position: int) -> np.ndarray:
        """Stored vector (hnswlib stores unit vectors for cosine)."""
        return np.asarray(self._index.get_items([int(position)])[0], dtype=np.float32)

    def _search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        self._index.set_ef(max(int(self.params.get("ef", 50)), n))
        try:
            labels, dist = self._index.knn_query(query, k=n, num_threads=1)
        except RuntimeError:  # graph could not return n results: scan instead
            return self._scan(query, n)
        return labels[0].astype(np.int64), (1.0 - dist[0]).astype(np.float32)

    def _scan(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        from recsys.index.exact import normalize_rows, top_k

        logger.warning("hnsw returned too few results; scanning %d items", len(self))
        items = np.asarray(self._index.get_items(list(range(len(self)))), dtype=np.float32)
        if self.metric == "cosine":
            query = normalize_rows(query)
        return top_k(items @ query, n)
