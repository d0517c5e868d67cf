"""2-D map of the song embeddings: PCA (numpy SVD) of the most popular songs' input vectors.

The map of a model version is computed once per process and kept in memory
(:class:`MapCache`, in ``app.extensions``); it holds at most ``cap`` songs, chosen by training
count, with their title, artist and most common tag.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from recsys.recommend import ServingModel

DEFAULT_CAP = 5000
KEEP_VERSIONS = 2


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Coordinates of ``vectors`` on their first two principal axes, and the variance ratios.

    Signs are fixed (largest loading positive) so the same vectors always give the same map.
    Coordinates are scaled into [-1, 1] (same factor on both axes, aspect kept).
    """
    x = np.asarray(vectors, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.zeros((0, 2)), [0.0, 0.0]
    centred = x - x.mean(axis=0)
    if n < 2 or not np.any(centred):
        return np.zeros((n, 2)), [0.0, 0.0]
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    coords = centred @ axes.T
    if coords.shape[1] < 2:  # one-dimensional vectors
        coords = np.hstack([coords, np.zeros((n, 2 - coords.shape[1]))])
    scale = float(np.abs(coords).max()) or 1.0
    var = s**2
    ratios = (var[:2] / var.sum()).tolist() if var.sum() > 0 else [0.0, 0.0]
    return coords / scale, [float(r) for r in ratios] + [0.0] * (2 - len(ratios))


def popular_rows(model: ServingModel, cap: int) -> np.ndarray:
    """Rows of the ``cap`` songs with the highest training counts (ties: lower row first)."""
    counts = np.asarray(model.counts)
    return np.argsort(-counts, kind="stable")[:cap]


def build_map(model: ServingModel, cap: int,
              tags_of: Callable[[Sequence[int]], Mapping[int, str]]) -> dict[str, Any]:
    """The JSON document of ``/admin/map.json`` for ``model`` (column arrays, one per field)."""
    rows = popular_rows(model, cap)
    coords, ratios = pca_2d(np.asarray(model.in_vectors)[rows])
    ids = [int(model.song_ids[r]) for r in rows]
    titles = model.columns["title"]
    artists = model.columns["artist"]
    tags = tags_of(ids)
    return {
        "version": model.version,
        "n_songs": len(model),
        "n_points": len(ids),
        "explained_variance": [round(r, 4) for r in ratios],
        "ids": ids,
        "x": [round(float(v), 5) for v in coords[:, 0]],
        "y": [round(float(v), 5) for v in coords[:, 1]],
        "title": [titles[int(r)] for r in rows],
        "artist": [artists[int(r)] for r in rows],
        "count": [int(model.counts[r]) for r in rows],
        "tag": [tags.get(i, "") for i in ids],
    }


class MapCache:
    """Maps of the last few model versions, computed once each (thread-safe)."""

    def __init__(self, keep: int = KEEP_VERSIONS) -> None:
        self.keep = keep
        self._maps: OrderedDict[tuple[str, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0  # how many maps were computed (for tests and logs)

    def get(self, model: ServingModel, cap: int,
            tags_of: Callable[[Sequence[int]], Mapping[int, str]]) -> dict[str, Any]:
        """The map of ``model``, computing it on first use."""
        key = (str(model.bundle.path), cap)
        with self._lock:  # one computation at a time; others wait and reuse it
            found = self._maps.get(key)
            if found is None:
                found = build_map(model, cap, tags_of)
                self.computed += 1
                self._maps[key] = found
                while len(self._maps) > self.keep:
                    self._maps.popitem(last=False)
            self._maps.move_to_end(key)
            return found
