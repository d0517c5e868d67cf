"""Annoy backend: random-projection forest, memory-mapped so server processes share pages.

Metric mapping: ``cosine`` uses Annoy ``angular`` (distance ``d = sqrt(2 - 2 cos)``, reported
back as ``cos = 1 - d**2 / 2``); ``dot`` uses Annoy ``dot`` (distance is the dot product).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex as _Annoy

from recsys.index.base import VectorIndex, check_metric, check_vectors, logger

ANNOY_METRICS = {"cosine": "angular", "dot": "dot"}
DEFAULT_N_TREES = 50
DEFAULT_SEARCH_K = -1  # Annoy default: n_trees * n results requested


class AnnoyIndex(VectorIndex):
    """Approximate index on top of ``annoy.AnnoyIndex``.

    Params:
        n_trees: trees in the forest (more: larger file, better recall per ``search_k``).
        search_k: nodes inspected per query (-1: ``n_trees * n``); at least
            ``n_trees * n`` is always used so over-fetching for excludes keeps recall.
        seed: random seed for a reproducible forest.
        n_jobs: build threads (-1: all cores).
    """

    backend = "annoy"
    mmap_supported = True

    def __init__(self, index: _Annoy, metric: str, dim: int, params: dict[str, Any]) -> None:
        super().__init__(metric, dim, index.get_n_items(), params)
        self._index = index

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        metric: str,
        n_trees: int = DEFAULT_N_TREES,
        search_k: int = DEFAULT_SEARCH_K,
        seed: int = 42,
        n_jobs: int = -1,
    ) -> AnnoyIndex:
        """Build a forest of ``n_trees`` trees over ``vectors``."""
        check_metric(metric)
        if int(n_trees) < 1:
            raise ValueError(f"n_trees must be >= 1, got {n_trees}")
        data = check_vectors(vectors)
        n, dim = data.shape
        start = time.perf_counter()
        index = _Annoy(dim, ANNOY_METRICS[metric])
        index.set_seed(int(seed))
        step = max(n // 10, 1)
        for i in range(n):
            index.add_item(i, data[i])
            if (i + 1) % step == 0 and n >= 100_000:
                logger.info("annoy: added %d/%d items", i + 1, n)
        added = time.perf_counter() - start
        logger.info("annoy: building %d trees over %d x %d (%s)", n_trees, n, dim, metric)
        index.build(int(n_trees), n_jobs=int(n_jobs))
        seconds = time.perf_counter() - start
        logger.info("annoy: built in %.1fs (adding items %.1fs)", seconds, added)
        params = {
            "n_trees": int(n_trees),
            "search_k": int(search_k),
            "seed": int(seed),
            "build_seconds": round(seconds, 3),
        }
        return cls(index, metric, dim, params)

    def _save_data(self, prefix: Path) -> list[Path]:
        path = Path(f"{prefix}.ann")
        self._index.save(str(path), prefault=False)  # Annoy re-mmaps the saved file
        return [path]

    @classmethod
    def _load_data(cls, prefix: Path, meta: dict[str, Any], mmap: bool) -> AnnoyIndex:
        path = Path(f"{prefix}.ann")
        if not path.is_file():
            raise FileNotFoundError(f"missing annoy index file {path}")
        index = _Annoy(int(meta["dim"]), ANNOY_METRICS[check_metric(meta["metric"])])
        # Annoy always mmaps (MAP_SHARED): pages are shared by every process loading the file.
        # prefault=True only pre-reads the pages (MAP_POPULATE); the mapping stays shared.
        index.load(str(path), prefault=not mmap)
        if index.get_n_items() != meta["size"]:
            raise ValueError(f"{path}: {index.get_n_items()} items, metadata says {meta['size']}")
        return cls(index, meta["metric"], int(meta["dim"]), meta.get("params", {}))

    def unload(self) -> None:
        """Release the memory map (the index is unusable afterwards)."""
        self._index.unload()

    def item_vector(self, position: int) -> np.ndarray:
        """Stored vector (unit length for cosine)."""
        vec = np.asarray(self._index.get_item_vector(int(position)), dtype=np.float32)
        if self.metric == "cosine":
            vec = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return vec

    def _to_scores(self, distances: list[float]) -> np.ndarray:
        dist = np.asarray(distances, dtype=np.float32)
        return 1.0 - dist * dist / 2.0 if self.metric == "cosine" else dist

    def _search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        n_trees = int(self.params.get("n_trees", self._index.get_n_trees()))
        search_k = int(self.params.get("search_k", -1))
        search_k = -1 if search_k < 0 else max(search_k, n * n_trees)
        ids, dist = self._index.get_nns_by_vector(query, n, search_k, include_distances=True)
        if len(ids) < n:  # Annoy can come back short; widen the search to every leaf
            ids, dist = self._index.get_nns_by_vector(
                query, n, len(self) * max(n_trees, 1), include_distances=True
            )
        if len(ids) < n:  # degenerate splits: fall back to scanning the stored vectors
            return self._scan(query, n)
        return np.asarray(ids, dtype=np.int64), self._to_scores(dist)

    def _scan(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        from recsys.index.exact import normalize_rows, top_k

        logger.warning("annoy returned too few results; scanning %d items", len(self))
        items = np.stack([self._index.get_item_vector(i) for i in range(len(self))])
        items = items.astype(np.float32)
        if self.metric == "cosine":
            items, query = normalize_rows(items), normalize_rows(query)
        return top_k(items @ query, n)
