"""A model bundle loaded for serving: memory-mapped arrays, indexes and metadata columns.

Scoring matches :class:`recsys.ml.scoring.W2VNext` (what the offline evaluation measures):
for seeds ``S`` and candidate ``c``::

    next(c)    = sum_s [ w * in[s].out[c] + wt * log1p(T[s,c]) + wc * log1p(C[s,c]) ]
                 + |S| * wp * log(count[c])
    similar(c) = cos(mean_s unit(in[s]), in[c])

The ``next`` ANN index holds ``[out[c], wp*log(count[c])]`` so that the query
``[w * sum_s in[s], |S|]`` ranks candidates by the vector part of the score; candidates are the
ANN results plus the non-zero count neighbours of the seeds, re-scored exactly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.index.bundle import Bundle

log = logging.getLogger("recsys.recommend")

MODES = ("similar", "next")


def _csr(bundle: Bundle, name: str, n: int) -> sp.csr_matrix:
    return sp.csr_matrix(
        (bundle.array(f"{name}.data"), bundle.array(f"{name}.indices"),
         bundle.array(f"{name}.indptr")),
        shape=(n, n),
    )


@dataclass
class Scored:
    """Candidate rows and their scores, best first."""

    rows: np.ndarray
    scores: np.ndarray


class ServingModel:
    """Everything one process needs to answer requests for one model version."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.version = bundle.version
        self.manifest = bundle.manifest
        settings = bundle.manifest.get("settings", {})
        self.w2v_weight = float(settings.get("next_w2v_weight", 1.0))
        self.transition_weight = float(settings.get("next_transition_weight", 0.0))
        self.cooc_weight = float(settings.get("next_cooc_weight", 0.0))
        self.pop_weight = float(settings.get("next_pop_weight", 0.0))
        self.song_ids = bundle.array("song_ids")
        self._lookup_ids = bundle.array("lookup_ids")
        self._lookup_rows = bundle.array("lookup_rows")
        self.in_vectors = bundle.array("in_vectors")
        self.out_vectors = bundle.array("out_vectors")
        self.counts = bundle.array("counts")
        n = len(self.song_ids)
        self.transitions = _csr(bundle, "transitions", n)
        self.cooc = _csr(bundle, "cooc", n)
        windowed = bundle.has("cooc_scoring.data.npy")
        self.cooc_scoring = _csr(bundle, "cooc_scoring", n) if windowed else self.cooc
        self.columns = {c: bundle.strings(c) for c in ("source", "external_id", "title", "artist")}
        self.indexes = {mode: bundle.index(mode) for mode in MODES}
        self.popular_rows = np.argsort(-np.asarray(self.counts), kind="stable")[:1000]
        self.pop_term = (self.pop_weight * np.log(np.maximum(self.counts, 1))).astype(np.float32)

    @classmethod
    def open(cls, path, verify: bool = True) -> ServingModel:
        """Open and verify the bundle at ``path``."""
        return cls(Bundle.open(path, verify=verify))

    def __len__(self) -> int:
        return len(self.song_ids)

    # -- lookups ----------------------------------------------------------------------------
    def row_of(self, song_id: int) -> int | None:
        """Row of a song id, or None when the model has not seen the song."""
        pos = int(np.searchsorted(self._lookup_ids, song_id))
        if pos < len(self._lookup_ids) and int(self._lookup_ids[pos]) == int(song_id):
            return int(self._lookup_rows[pos])
        return None

    def song(self, row: int) -> dict[str, Any]:
        """Public JSON shape of the song at ``row``."""
        c = self.columns
        return {
            "id": int(self.song_ids[row]),
            "source": c["source"][row],
            "external_id": c["external_id"][row],
            "title": c["title"][row],
            "artist": c["artist"][row],
        }

    def artist(self, row: int) -> str:
        return self.columns["artist"][row]

    # -- scoring ----------------------------------------------------------------------------
    def candidates(self, mode: str, seeds: np.ndarray, n: int, exclude: set[int]) -> Scored:
        """Top ``n`` rows for ``seeds`` in ``mode`` (seeds and ``exclude`` rows removed)."""
        banned = set(exclude) | {int(s) for s in seeds}
        if mode == "similar":
            unit = self.in_vectors[seeds] / np.maximum(
                np.linalg.norm(self.in_vectors[seeds], axis=1, keepdims=True), 1e-12)
            query = unit.mean(axis=0)
            rows, scores = self.indexes["similar"].query(query, n, exclude=banned)
            return Scored(rows, scores)
        query = np.append(self.w2v_weight * self.in_vectors[seeds].sum(axis=0), float(len(seeds)))
        ann_rows, _ = self.indexes["next"].query(query.astype(np.float32), n, exclude=banned)
        extra = self._count_neighbours(seeds, n)
        pool = np.union1d(ann_rows, extra)
        pool = pool[~np.isin(pool, list(banned))] if banned else pool
        scores = self.next_scores(seeds, pool)
        order = np.argsort(-scores, kind="stable")[:n]
        return Scored(pool[order].astype(np.int64), scores[order].astype(np.float32))

    def _count_neighbours(self, seeds: np.ndarray, n: int) -> np.ndarray:
        if not (self.transition_weight or self.cooc_weight):
            return np.empty(0, np.int64)
        found = []
        for table in (self.transitions, self.cooc_scoring):
            row = table[seeds].sum(axis=0).A1 if len(seeds) > 1 else table[seeds[0]].toarray()[0]
            nz = np.flatnonzero(row)
            if len(nz) > n:
                nz = nz[np.argpartition(-row[nz], n - 1)[:n]]
            found.append(nz)
        return np.concatenate(found).astype(np.int64)

    def next_scores(self, seeds: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact ``next`` score of ``rows`` for ``seeds``."""
        if len(rows) == 0:
            return np.empty(0, np.float32)
        scores = self.w2v_weight * (self.in_vectors[seeds] @ self.out_vectors[rows].T).sum(axis=0)
        scores = scores + len(seeds) * self.pop_term[rows]
        if self.transition_weight:
            t = self.transitions[seeds][:, rows].toarray()
            scores = scores + self.transition_weight * np.log1p(t).sum(axis=0)
        if self.cooc_weight:
            c = self.cooc_scoring[seeds][:, rows].toarray()
            scores = scores + self.cooc_weight * np.log1p(c).sum(axis=0)
        return np.asarray(scores, dtype=np.float32)

    def explain(self, seeds: np.ndarray, rows: np.ndarray) -> list[dict[str, int]]:
        """Per row: playlists shared with the seeds, and times it followed a seed."""
        if len(rows) == 0:
            return []
        cooc = np.asarray(self.cooc[seeds][:, rows].sum(axis=0)).ravel()
        trans = np.asarray(self.transitions[seeds][:, rows].sum(axis=0)).ravel()
        return [
            {"playlists_with_seeds": int(c), "times_after_seeds": int(t)}
            for c, t in zip(cooc, trans, strict=True)
        ]
