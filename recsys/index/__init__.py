"""Vector index layer: exact numpy search, Annoy (default) and optional hnswlib.

Typical use::

    from recsys.index import build_index, load_index
    index = build_index("annoy", vectors, "cosine", n_trees=20, search_k=400)
    files = index.save("var/bundle/similar")     # list of paths to checksum
    index = load_index("var/bundle/similar")     # backend read from the sidecar
    positions, scores = index.query_item(42, k=10)

Backends are imported lazily, so importing this package does no work.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np

from recsys.index.base import METRICS, VectorIndex, read_meta

DEFAULT_BACKEND = "annoy"

_BACKENDS = {
    "exact": ("recsys.index.exact", "ExactIndex"),
    "annoy": ("recsys.index.annoy_index", "AnnoyIndex"),
    "hnsw": ("recsys.index.hnsw_index", "HnswIndex"),
}

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "METRICS",
    "VectorIndex",
    "available_backends",
    "build_index",
    "get_backend",
    "load_index",
]

BACKENDS = tuple(_BACKENDS)


def get_backend(name: str) -> type[VectorIndex]:
    """Return the index class registered as ``name`` ('exact', 'annoy', 'hnsw').

    Raises:
        ValueError: unknown name.
        ImportError: the backend's optional dependency is not installed.
    """
    if name not in _BACKENDS:
        raise ValueError(f"unknown index backend {name!r}; expected one of {BACKENDS}")
    module, attr = _BACKENDS[name]
    return getattr(importlib.import_module(module), attr)


def available_backends() -> list[str]:
    """Backends whose dependencies import successfully."""
    names = []
    for name in _BACKENDS:
        try:
            if name == "hnsw":
                importlib.import_module("hnswlib")
            get_backend(name)
        except ImportError:
            continue
        names.append(name)
    return names


def build_index(name: str, vectors: np.ndarray, metric: str, **params: Any) -> VectorIndex:
    """Build an index with backend ``name``; see each backend for ``params``."""
    return get_backend(name).build(vectors, metric, **params)


def load_index(path: str | Path, backend: str | None = None, mmap: bool = True) -> VectorIndex:
    """Load an index saved at path prefix ``path``; the backend is read from its sidecar.

    Args:
        path: prefix given to ``VectorIndex.save``.
        backend: if given, fail unless the saved index uses this backend.
        mmap: memory-map the data when the backend supports it.
    """
    saved = read_meta(path).get("backend")
    if backend is not None and backend != saved:
        raise ValueError(f"{path} holds a {saved!r} index, expected {backend!r}")
    return get_backend(saved).load(path, mmap=mmap)
