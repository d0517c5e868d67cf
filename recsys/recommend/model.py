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
1.0) without touching the ANN index.

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

from recsys.index.bundle import Bundle, StringColumn, encode_song_json
from recsys.recommend.csr import csr_table, gather, row_sums
from recsys.recommend.external import ExternalIds
from recsys.recommend.hidden import Hidden

log = logging.getLogger("recsys.recommend")

MODES = ("similar", "next")
COLUMNS = ("source", "external_id", "title", "artist")
# Candidates per term (ANN, each count table) when no precomputed list answers, as a multiple
# of those wanted: the best blended scores lie deeper in each term's own ranking. On yes_big,
# one seed's top 10 overlaps the exact one by 0.945 at 1x, 0.993 at 2x and 0.998 at 4x, for the
# same CPU time per query (the scoring, not the pool, dominates).
POOL_WIDTH = 4
# Seeds scored together by ServingModel.next_score_matrix: bounds the dense temporaries
# (32 x songs; 32 and 128 ran equally fast on yes_big).
SCORE_BLOCK = 32
# Catalogs up to this size get their metadata decoded once per process (see ServingModel).
DECODE_MAX_SONGS = 100_000


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
        self.transitions = csr_table(bundle, "transitions", n)
        self.cooc = csr_table(bundle, "cooc", n)
        windowed = bundle.has("cooc_scoring.data.npy")
        self.cooc_scoring = csr_table(bundle, "cooc_scoring", n) if windowed else self.cooc
        self.columns = {c: bundle.strings(c) for c in COLUMNS}
        # Small catalogs: decode the metadata once per process into Python lists (a few MB
        # at 10k songs) instead of decoding the memory-mapped blobs on every request. Large
        # catalogs keep the shared pages and decode only the rows a response needs.
        self._decoded: dict[str, list] | None = None
        self._rows: dict[int, int] | None = None
        # ... and each song's JSON object pre-serialised (as Flask's jsonify writes it: sorted
        # keys, compact, ASCII), for responses built by string joining (see song_json).
        self.song_json: list[str] | StringColumn | None = None
        if n <= DECODE_MAX_SONGS:
            self._decoded = {c: col.take(np.arange(n)) for c, col in self.columns.items()}
            self._decoded["id"] = self.song_ids.tolist()
            self._rows = {song_id: row for row, song_id in enumerate(self._decoded["id"])}
            self.song_json = [encode_song_json(song) for song in self.songs(range(n))]
        elif bundle.has("song_json.blob.npy"):  # bundles built before it lack the column
            self.song_json = bundle.strings("song_json")
        self.indexes = {mode: bundle.index(mode) for mode in MODES}
        # exact top-N lists per mode: (rows int32 n x N, scores float32 n x N), best first
        self.neighbours: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for mode in MODES:
            if bundle.has(f"neighbours_{mode}_rows.npy"):
                self.neighbours[mode] = (bundle.array(f"neighbours_{mode}_rows"),
                                         bundle.array(f"neighbours_{mode}_scores"))
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

    def row_of(self, song_id: int) -> int | None:
        """Row of a song id, or None when the model has not seen the song."""
        if self._rows is not None:
            return self._rows.get(int(song_id))
        pos = int(np.searchsorted(self._lookup_ids, song_id))
        if pos < len(self._lookup_ids) and int(self._lookup_ids[pos]) == int(song_id):
            return int(self._lookup_rows[pos])
        return None

    def song(self, row: int) -> dict[str, Any]:
        """Public JSON shape of the song at ``row``."""
        return self.songs([row])[0]

    def songs(self, rows: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """Public JSON shapes of the songs at ``rows``, in order (each column decoded once)."""
        if self._decoded is not None:
            d = self._decoded
            ids, source, ext, title, artist = (
                d["id"], d["source"], d["external_id"], d["title"], d["artist"])
            return [{"id": ids[r], "source": source[r], "external_id": ext[r],
                     "title": title[r], "artist": artist[r]}
                    for r in (rows.tolist() if isinstance(rows, np.ndarray) else rows)]
        rows = np.asarray(rows, dtype=np.int64)
        c = self.columns
        return [
            {"id": i, "source": s, "external_id": e, "title": t, "artist": a}
            for i, s, e, t, a in zip(
                self.song_ids[rows].tolist(), c["source"].take(rows),
                c["external_id"].take(rows), c["title"].take(rows), c["artist"].take(rows),
                strict=True)
        ]

    def songs_json(self, rows: list[int]) -> list[str]:
        """Pre-serialised JSON of the songs at ``rows`` (requires ``song_json``)."""
        js = self.song_json
        if isinstance(js, StringColumn):
            return js.take(rows)
        return [js[r] for r in rows]

    def artist(self, row: int) -> str:
        if self._decoded is not None:
            return self._decoded["artist"][row]
        return self.columns["artist"][row]

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

    def _from_lists(self, mode: str, seed: int, n: int, exclude: set[int]) -> Scored | None:
        """Top ``n`` from the precomputed list of ``seed``, or None when it is too short."""
        all_rows, all_scores = self.neighbours[mode]
        rows, scores = all_rows[seed], all_scores[seed]  # the seed itself is never listed
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
