"""Abstract vector index interface shared by every backend.

An index stores ``n`` item vectors at positions ``0..n-1`` (the caller keeps the mapping
from positions to song ids) and answers top-k queries for one of two metrics:

* ``cosine``: score is the cosine similarity between query and item.
* ``dot``: score is the raw dot product ``query . item``.

Scores are comparable between backends, so an approximate index can be swapped for the
exact one without changing thresholds downstream.

On disk an index is a *path prefix*: each backend writes its data file(s) plus a small JSON
sidecar ``<prefix>.index.json`` holding backend, metric, dimension, size and parameters.
``save`` returns the list of files written so a bundle writer can checksum them.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

logger = logging.getLogger("recsys.index")

METRICS = ("cosine", "dot")
META_SUFFIX = ".index.json"
FORMAT_VERSION = 1


def check_metric(metric: str) -> str:
    """Return ``metric`` if supported, else raise ``ValueError``."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {METRICS}")
    return metric


def check_vectors(vectors: np.ndarray) -> np.ndarray:
    """Validate a 2-D, non-empty, finite matrix and return it as C-contiguous float32."""
    arr = np.asarray(vectors)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"vectors must be a non-empty 2-D array, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise ValueError("vectors contain NaN or infinite values")
    return arr


def meta_path(prefix: str | Path) -> Path:
    """Path of the JSON sidecar for an index saved at ``prefix``."""
    return Path(f"{prefix}{META_SUFFIX}")


def read_meta(prefix: str | Path) -> dict[str, Any]:
    """Read the sidecar of an index saved at ``prefix``.

    Raises:
        FileNotFoundError: if no index was saved at ``prefix``.
    """
    path = meta_path(prefix)
    if not path.is_file():
        raise FileNotFoundError(f"no index metadata at {path} (was the index saved there?)")
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


class VectorIndex(ABC):
    """Top-k search over a fixed set of item vectors.

    Attributes:
        backend: registry name of the implementation (class attribute).
        mmap_supported: whether ``load(mmap=True)`` maps the data file instead of reading it.
        metric: ``"cosine"`` or ``"dot"``.
        dim: vector dimension.
        params: backend parameters (JSON-serialisable), including measured facts such as
            ``build_seconds``; written to the sidecar and meant for the bundle manifest.
    """

    backend: ClassVar[str] = ""
    mmap_supported: ClassVar[bool] = False

    def __init__(self, metric: str, dim: int, size: int, params: dict[str, Any]) -> None:
        self.metric = check_metric(metric)
        self.dim = int(dim)
        self._size = int(size)
        self.params = dict(params)

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(metric={self.metric!r}, n={len(self)}, dim={self.dim})"

    # -- construction / persistence -------------------------------------------------------
    @classmethod
    @abstractmethod
    def build(cls, vectors: np.ndarray, metric: str, **params: Any) -> VectorIndex:
        """Build an index over ``vectors`` (row ``i`` is item position ``i``)."""

    @abstractmethod
    def _save_data(self, prefix: Path) -> list[Path]:
        """Write backend data files for ``prefix`` and return their paths."""

    @classmethod
    @abstractmethod
    def _load_data(cls, prefix: Path, meta: dict[str, Any], mmap: bool) -> VectorIndex:
        """Load backend data written by ``_save_data``."""

    @abstractmethod
    def _search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return up to ``n`` (positions, scores), best first, for a validated query."""

    def save(self, prefix: str | Path) -> list[Path]:
        """Save to files starting with ``prefix``; returns every file written."""
        prefix = Path(prefix)
        prefix.parent.mkdir(parents=True, exist_ok=True)
        files = self._save_data(prefix)
        meta = {
            "format_version": FORMAT_VERSION,
            "backend": self.backend,
            "metric": self.metric,
            "dim": self.dim,
            "size": len(self),
            "params": self.params,
        }
        path = meta_path(prefix)
        path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        logger.info("saved %r to %s (%d files)", self, prefix, len(files) + 1)
        return [*files, path]

    @classmethod
    def load(cls, prefix: str | Path, mmap: bool = True) -> VectorIndex:
        """Load an index saved at ``prefix`` (memory-mapped when ``mmap`` and supported).

        Raises:
            FileNotFoundError: if a file is missing.
            ValueError: if the files belong to another backend or format version.
        """
        prefix = Path(prefix)
        meta = read_meta(prefix)
        if meta.get("backend") != cls.backend:
            raise ValueError(f"{prefix} holds a {meta.get('backend')!r} index, not {cls.backend!r}")
        if meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"{prefix}: unsupported format version {meta.get('format_version')}")
        return cls._load_data(prefix, meta, mmap)

    # -- queries --------------------------------------------------------------------------
    def _check_query(self, vector: np.ndarray, k: int) -> np.ndarray:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"query has dimension {query.shape[0]}, index has {self.dim}")
        if not np.isfinite(query).all():
            raise ValueError("query contains NaN or infinite values")
        return query

    def query(
        self, vector: np.ndarray, k: int, exclude: Collection[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the ``k`` best items for ``vector``.

        Args:
            vector: query vector of length ``dim``.
            k: number of results wanted; fewer are returned only if fewer items remain.
            exclude: positions that must not be returned (over-fetched, never short).

        Returns:
            ``(positions int64, scores float32)``, best (highest score) first.
        """
        query = self._check_query(vector, k)
        banned = {int(p) for p in exclude if 0 <= int(p) < len(self)} if exclude else set()
        want = min(int(k), len(self) - len(banned))
        if want <= 0:
            return np.empty(0, np.int64), np.empty(0, np.float32)
        positions, scores = self._search(query, min(want + len(banned), len(self)))
        if banned:
            keep = [i for i, p in enumerate(positions.tolist()) if p not in banned]
            if len(keep) < len(positions):
                positions, scores = positions[keep], scores[keep]
        return positions[:want].astype(np.int64), scores[:want].astype(np.float32)

    def query_item(
        self, position: int, k: int, exclude: Collection[int] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """Query with the stored vector at ``position``; the item itself is excluded."""
        if not 0 <= int(position) < len(self):
            raise ValueError(f"position {position} out of range for index of size {len(self)}")
        return self.query(self.item_vector(position), k, exclude={int(position), *exclude})

    @abstractmethod
    def item_vector(self, position: int) -> np.ndarray:
        """Stored vector at ``position`` (normalised for cosine indexes)."""
