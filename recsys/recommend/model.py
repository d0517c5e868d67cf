"""A model bundle loaded for serving: memory-mapped arrays, indexes and metadata columns.

Scoring matches :class:`recsys.ml.scoring.W2VNext` (what the offline evaluation measures):
for seeds ``S`` and candidate ``c``::

    next(c)    = w * mean_s(in[s]).out[c] + wp * log(count[c])
                 + sum_s [ wt * log1p(T[s,c]) + wc * log1p(C[s,c]) ]
    similar(c) = cos(mean_s unit(in[s]), in[c])

The ``next`` ANN index holds ``[out[c], wp*log(count[c])]`` so that the query
``[w * mean_s in[s], 1]`` ranks candidates by the vector part of the score; candidates are the
ANN results plus the non-zero count neighbours of the seeds, re-scored exactly.

Bundles of catalogs up to 200,000 songs also hold exact top-N neighbour lists per mode
(``neighbours_{mode}_rows``/``_scores``, see :mod:`recsys.index.build`): a one-seed request
that needs at most N candidates after its excluded rows is answered from them (exact, recall
1.0) without touching the ANN index. Larger catalogs hold the server's own ANN answers
(:mod:`recsys.recommend.lists`), for every song or, above a size, only for the most-played
songs: ``listed_seeds`` (sorted rows) and ``listed_{mode}_rows``/``_scores`` (one row per listed
seed; other names, so that a server without this support searches the index instead); the
others are answered by the index search, which gives the same items a list would.

Candidates may include hidden songs (``songs.available`` false): ``hidden`` holds them as a row
mask (:mod:`recsys.recommend.hidden`), which the service applies to every answer, so lists and
indexes stay valid when a song is hidden or shown again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.index.bundle import Bundle
from recsys.recommend.csr import csr_table, gather, row_sums
from recsys.recommend.external import ExternalIds
from recsys.recommend.hidden import Hidden
from recsys.recommend.metadata import SongMetadata

log = logging.getLogger("recsys.recommend")

MODES = ("similar", "next")
# Candidates per term (ANN, each count table) when no precomputed list answers, as a multiple
# of those wanted: the best blended scores lie deeper in each term's own ranking. On yes_big,
# one seed's top 10 overlaps the exact one by 0.945 at 1x, 0.993 at 2x and 0.998 at 4x, for the
# same CPU time per query (the scoring, not the pool, dominates).
POOL_WIDTH = 4
# Seeds scored together by ServingModel.next_score_matrix: bounds the dense temporaries
# (32 x songs; 32 and 128 ran equally fast on yes_big).
SCORE_BLOCK = 32


@dataclass
class Scored:
    """Candidate rows and their scores, best first."""

    rows: np.ndarray
    scores: np.ndarray


class ServingModel(SongMetadata):
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
        self.transitions = csr_table(bundle, "transitions", n)
        self.cooc = csr_table(bundle, "cooc", n)
        windowed = bundle.has("cooc_scoring.data.npy")
        self.cooc_scoring = csr_table(bundle, "cooc_scoring", n) if windowed else self.cooc
        self._load_metadata(bundle)
        self.indexes = {mode: bundle.index(mode) for mode in MODES}
        # exact top-N lists per mode: (rows int32 n x N, scores float32 n x N), best first
        self.neighbours: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        #: rows having a list (sorted; list i belongs to row listed_seeds[i]), None: every row
        self.listed_seeds: np.ndarray | None = None
        partial = bundle.has("listed_seeds.npy")
        if partial:
            self.listed_seeds = bundle.array("listed_seeds")
        prefix = "listed" if partial else "neighbours"
        for mode in MODES:
            if bundle.has(f"{prefix}_{mode}_rows.npy"):
                self.neighbours[mode] = (bundle.array(f"{prefix}_{mode}_rows"),
                                         bundle.array(f"{prefix}_{mode}_scores"))
        self.popular_rows = np.argsort(-np.asarray(self.counts), kind="stable")[:1000]
        self.pop_term = (self.pop_weight * np.log(np.maximum(self.counts, 1))).astype(np.float32)
        #: Songs never to recommend: the bundle's record until the holder sets the live set.
        self.hidden = Hidden(frozenset())
        self._external: ExternalIds | None = None  # built on first use: external_ids()
        self._external_lock = threading.Lock()
        if bundle.has("hidden_ids.npy"):  # bundles built before songs.available lack it
            self.set_hidden(bundle.array("hidden_ids").tolist())

    @classmethod
    def open(cls, path, verify: bool = True) -> ServingModel:
        """Open and verify the bundle at ``path``."""
        return cls(Bundle.open(path, verify=verify))

    def __len__(self) -> int:
        return len(self.song_ids)

    def set_hidden(self, song_ids) -> None:
        """Make ``song_ids`` (any catalog ids) the songs never recommended, at once."""
        self.hidden = Hidden.of(song_ids, self.row_of, len(self))

    # -- lookups ----------------------------------------------------------------------------
    def external_ids(self) -> ExternalIds:
        """The ``(source, external_id) -> song id`` look-up of this model's songs, built on
        first use (once, whatever the number of threads asking)."""
        if self._external is None:
            with self._external_lock:
                if self._external is None:
                    self._external = ExternalIds(self)
        return self._external

    @property
    def has_external_ids(self) -> bool:
        """Whether :meth:`external_ids` was built (the holder builds it for the next model)."""
        return self._external is not None

    # -- scoring ----------------------------------------------------------------------------
    def candidates(self, mode: str, seeds: np.ndarray, n: int, exclude: set[int]) -> Scored:
        """Top ``n`` rows for ``seeds`` in ``mode`` (seeds and ``exclude`` rows removed)."""
        if len(seeds) == 1 and mode in self.neighbours:
            found = self._from_lists(mode, int(seeds[0]), n, exclude)
            if found is not None:
                return found
        banned = set(exclude) | {int(s) for s in seeds}
        if mode == "similar":
            if len(seeds) == 1:  # the common case, without the batched-norm overhead
                vector = self.in_vectors[int(seeds[0])]
                query = vector / max(float(np.sqrt(vector @ vector)), 1e-12)
            else:
                vectors = self.in_vectors[seeds]
                unit = vectors / np.maximum(
                    np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
                query = unit.mean(axis=0)
            rows, scores = self.indexes["similar"].query(query, n, exclude=banned)
            return Scored(rows, scores)
        query = np.append(self.w2v_weight * self._mean_in(seeds), 1.0)
        wide = min(len(self), n * POOL_WIDTH)
        ann_rows, _ = self.indexes["next"].query(query.astype(np.float32), wide, exclude=banned)
        extra = self._count_neighbours(seeds, wide)
        pool = np.union1d(ann_rows, extra)
        pool = pool[~np.isin(pool, list(banned))] if banned else pool
        scores = self.next_scores(seeds, pool)
        order = np.argsort(-scores, kind="stable")[:n]
        return Scored(pool[order].astype(np.int64), scores[order].astype(np.float32))

    def list_slot(self, seed: int) -> int | None:
        """Index of ``seed``'s list in the list arrays, None when the seed has no list."""
        if self.listed_seeds is None:
            return seed
        slot = int(np.searchsorted(self.listed_seeds, seed))
        if slot < len(self.listed_seeds) and int(self.listed_seeds[slot]) == seed:
            return slot
        return None

    def _from_lists(self, mode: str, seed: int, n: int, exclude: set[int]) -> Scored | None:
        """Top ``n`` from the precomputed list of ``seed``, or None when it has no list or
        one too short."""
        slot = self.list_slot(seed)
        if slot is None:
            return None
        all_rows, all_scores = self.neighbours[mode]
        rows, scores = all_rows[slot], all_scores[slot]  # the seed itself is never listed
        if exclude:
            listed = rows.tolist()
            keep = [i for i, r in enumerate(listed) if r not in exclude]
            if len(keep) < len(listed):
                rows, scores = rows[keep], scores[keep]
        if n > len(rows) and len(rows) < len(self) - 1 - len(exclude - {seed}):
            return None  # more wanted than listed (unless the list holds every candidate)
        return Scored(rows[:n].astype(np.int64), scores[:n])

    def _count_neighbours(self, seeds: np.ndarray, n: int) -> np.ndarray:
        if not (self.transition_weight or self.cooc_weight):
            return np.empty(0, np.int64)
        found = []
        for table in (self.transitions, self.cooc_scoring):
            nz, values = row_sums(table, seeds)
            if len(nz) > n:
                nz = nz[np.argpartition(-values, n - 1)[:n]]
            found.append(nz)
        return np.concatenate(found).astype(np.int64)

    def _mean_in(self, seeds: np.ndarray) -> np.ndarray:
        """Mean input vector of the seeds (computed as W2VNext.score_seeds does)."""
        if len(seeds) == 1:
            return np.asarray(self.in_vectors[int(seeds[0])])
        return self.in_vectors[seeds].mean(axis=0, dtype=np.float64).astype(np.float32)

    def next_scores(self, seeds: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Exact ``next`` score of ``rows`` for ``seeds``."""
        if len(rows) == 0:
            return np.empty(0, np.float32)
        return np.asarray(sum(self.next_terms(seeds, rows).values()), dtype=np.float32)

    def next_terms(self, seeds: np.ndarray, rows: np.ndarray,
                   transitions: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The weighted terms of the ``next`` score of ``rows`` (their sum is the score):
        ``embedding`` (w·mean in·out), ``popularity`` (p·log count), ``transitions`` and
        ``cooccurrence`` (λ·Σ log1p count over the seeds; absent when weighted 0).

        ``transitions``: the seeds × rows transition counts when the caller has them already.
        """
        terms = {"embedding": self.w2v_weight * (self.out_vectors[rows] @ self._mean_in(seeds)),
                 "popularity": self.pop_term[rows]}
        if self.transition_weight:
            t = gather(self.transitions, seeds, rows) if transitions is None else transitions
            terms["transitions"] = self.transition_weight * np.log1p(t).sum(axis=0)
        if self.cooc_weight:
            c = gather(self.cooc_scoring, seeds, rows)
            terms["cooccurrence"] = self.cooc_weight * np.log1p(c).sum(axis=0)
        return terms

    def next_score_matrix(self, seeds: np.ndarray) -> np.ndarray:
        """``next_scores`` of each single seed against every song (``len(seeds) x n``, for
        offline evaluation), a block of seeds at a time with dense count rows."""
        out = np.empty((len(seeds), len(self)), dtype=np.float32)
        for start in range(0, len(seeds), SCORE_BLOCK):
            part = seeds[start:start + SCORE_BLOCK]
            block = self.w2v_weight * (np.asarray(self.in_vectors[part]) @ self.out_vectors.T)
            block += self.pop_term
            for weight, table in ((self.transition_weight, self.transitions),
                                  (self.cooc_weight, self.cooc_scoring)):
                if weight:
                    block += weight * np.log1p(table[part].toarray())
            out[start:start + len(part)] = block
        return out

    def explain(self, seeds: np.ndarray, rows: np.ndarray,
                score_parts: bool = False) -> list[dict[str, Any]]:
        """Per row: playlists shared with the seeds, times it followed a seed and, with
        ``score_parts``, the weighted terms of its ``next`` score (:meth:`next_terms`)."""
        if len(rows) == 0:
            return []
        rows = np.asarray(rows, dtype=np.int64)
        cooc = gather(self.cooc, seeds, rows).sum(axis=0)
        per_seed = gather(self.transitions, seeds, rows)
        whys: list[dict[str, Any]] = [
            {"playlists_with_seeds": int(c), "times_after_seeds": int(t)}
            for c, t in zip(cooc, per_seed.sum(axis=0), strict=True)
        ]
        if score_parts:  # the transition counts gathered once serve both
            terms = {name: np.asarray(v, dtype=np.float64).tolist()
                     for name, v in self.next_terms(seeds, rows, per_seed).items()}
            for i, why in enumerate(whys):
                why["score_parts"] = {n: round(v[i], 6) for n, v in terms.items()}
        return whys
