"""Turn a trained model into a model bundle: vectors, count tables, metadata, ANN indexes.

Layout of a bundle (all arrays are ``.npy``, loaded memory-mapped):

* ``song_ids`` (row -> song id), ``lookup_ids``/``lookup_rows`` (sorted ids -> rows),
* ``in_vectors``, ``out_vectors``, ``counts`` (training occurrences per row),
* ``transitions.*`` and ``cooc.*``: CSR count tables (directed next-song pairs; playlists
  containing both songs) used by the ``next`` score, candidates and explanations
  (``cooc_scoring.*`` too when the score counts pairs: within a window, or plays with repeats),
* string columns ``source``, ``external_id``, ``title``, ``artist``, and ``song_json`` (each
  song's public JSON object, pre-serialised: large catalogs join responses from it),
* ``hidden_ids``: sorted ids of the songs never to recommend when the bundle was built
  (``songs.available`` false; servers then follow the database, see
  :class:`recsys.recommend.holder.ModelHolder`); the lists and indexes still hold them,
* ANN indexes ``similar`` (cosine on input vectors) and ``next`` (dot product on output
  vectors augmented with the popularity term, see :mod:`recsys.recommend.model`); above
  ``NEIGHBOURS_MAX_SONGS`` songs an index is an exact scan when Annoy does not reach the target
  recall within ``search_k`` = a quarter of the item count (a scan is then faster; the tuning is
  in its manifest entry's ``annoy_tuning``),
* for catalogs up to ``NEIGHBOURS_MAX_SONGS`` songs, exact neighbour lists per mode:
  ``neighbours_{mode}_rows`` (int32, n x N, best first, the song itself left out) and
  ``neighbours_{mode}_scores`` (float32), scored by :mod:`recsys.ml.scoring` (the formulas the
  server uses); the manifest's ``neighbours`` entry records ``N`` and ``exact: true``;
  catalogs up to ``APPROX_LISTS_MAX_SONGS`` get ``APPROX_LISTS_N`` long lists of the server's
  own ANN answers instead (``exact: false`` and their measured ``recall_at_10``); above
  ``APPROX_LISTS_MAX_SEEDS`` songs only the most-played ones get a list (``listed_seeds``,
  ``listed_{mode}_rows``/``_scores``; the manifest records ``listed_songs`` and the share of
  training plays they cover, ``plays_listed``): the server searches the index for the others.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import numpy as np
import scipy.sparse as sp

from recsys.index import build_index
from recsys.index.bundle import encode_song_json
from recsys.index.store import ModelStore
from recsys.index.tuning import choose_annoy_params
from recsys.ml.baselines import cooccurrence_matrix, pair_matrix
from recsys.ml.scoring import next_recommender, similar_recommender
from recsys.ml.train import TrainedModel

log = logging.getLogger("recsys.index")

# Exact top-N neighbour lists are precomputed for catalogs up to this size (n x N x 8 bytes
# per mode: 160 MB at 200,000 songs, memory-mapped and shared by the workers).
NEIGHBOURS_MAX_SONGS = 200_000
NEIGHBOURS_N = 100
# Larger catalogs get shorter lists of the server's own ANN answers instead, computed with the
# index after it is built...
APPROX_LISTS_MAX_SONGS = 2_000_000
APPROX_LISTS_N = 32
# ...for at most this many songs, the most played (84% of the plays of a 253,308-song
# synthetic catalog): a list costs one index query (7 ms with the `next` scan at that size),
# so they grow with the catalog only as one query does (3.5 min at that size, 25,000 x N x 8
# bytes = 6.4 MB per mode; docs/benchmarks.md §14.1); their recall is measured on listed songs.
APPROX_LISTS_MAX_SEEDS = 25_000
# An Annoy node inspected costs about as much as this many items scanned (46,495 x 65 `next`:
# 7.6 ms for search_k 102,400 against 0.87 ms for a scan, bench/list_build.py).
SCAN_NODES_PER_ITEM = 4
SONG_COLUMNS = ("source", "external_id", "title", "artist")
LIBRARIES = ("gensim", "numpy", "scipy", "annoy", "flask", "sqlalchemy")


def library_versions() -> dict[str, str]:
    """Versions of the libraries a bundle depends on."""
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def next_item_vectors(model: TrainedModel) -> np.ndarray:
    """Output vectors with one extra coordinate holding the ``next`` popularity term."""
    s = model.settings
    pop = s.next_pop_weight * np.log(np.maximum(model.counts, 1)).astype(np.float32)
    return np.hstack([model.out_vectors, pop[:, None]]).astype(np.float32)


def neighbour_lists(score_rows, n_items: int, n_neighbours: int = NEIGHBOURS_N,
                    chunk_cells: int = 1 << 25) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``n_neighbours`` rows and scores of every row, the row itself left out.

    ``score_rows(rows)`` returns the ``len(rows) x n_items`` score matrix (a
    :class:`recsys.ml.base.MatrixRecommender`'s ``score_rows``). Each list is best first,
    ties broken by the lower row (as the server's stable sort of a row-sorted pool).
    """
    n = min(int(n_neighbours), n_items - 1)
    rows_out = np.empty((n_items, max(n, 0)), np.int32)
    scores_out = np.empty((n_items, max(n, 0)), np.float32)
    if n <= 0:
        return rows_out, scores_out
    step = max(1, chunk_cells // n_items)
    for start in range(0, n_items, step):
        seeds = np.arange(start, min(start + step, n_items))
        block = np.asarray(score_rows(seeds), dtype=np.float32)
        block[np.arange(len(seeds)), seeds] = -np.inf  # never the song itself
        part = np.argpartition(-block, n - 1, axis=1)[:, :n]
        vals = np.take_along_axis(block, part, axis=1)
        for i in range(len(seeds)):  # best first, ties by row
            order = np.lexsort((part[i], -vals[i]))
            rows_out[start + i] = part[i, order]
            scores_out[start + i] = vals[i, order]
    return rows_out, scores_out


def _serving_lists(writer, model: TrainedModel, workers: int | None) -> dict[str, Any]:
    """Top-``APPROX_LISTS_N`` lists per mode as the server answers them from the ANN indexes
    just written (see :mod:`recsys.recommend.lists`), with their measured recall."""
    from recsys.index.bundle import Bundle
    from recsys.recommend.lists import list_recall, listed_seeds, serving_lists
    from recsys.recommend.model import MODES, ServingModel

    started = time.monotonic()
    counts = np.asarray(model.counts, dtype=np.int64)
    seeds = listed_seeds(counts, APPROX_LISTS_MAX_SEEDS)
    partial = len(seeds) < len(counts)
    prefix = "listed" if partial else "neighbours"
    log.info("computing neighbour lists with the ANN indexes (N=%d) for %d of %d songs",
             APPROX_LISTS_N, len(seeds), len(counts))
    draft = ServingModel(Bundle(writer.path, {"version": writer.version,
                                              "settings": model.settings.to_dict()}))
    if partial:
        writer.add_array("listed_seeds", seeds)
    recall = {}
    for mode in MODES:
        rows, scores = serving_lists(draft, mode, APPROX_LISTS_N, workers=workers,
                                     seeds=seeds if partial else None)
        writer.add_array(f"{prefix}_{mode}_rows", rows)
        writer.add_array(f"{prefix}_{mode}_scores", scores)
        recall[mode] = round(list_recall(draft, mode, rows, seeds=seeds), 4)
        log.info("%s lists: recall@10 %.3f against exact search", mode, recall[mode])
    plays = float(counts[seeds].sum()) / max(float(counts.sum()), 1.0)
    return {"n": APPROX_LISTS_N, "exact": False, "modes": list(MODES),
            "recall_at_10": recall, "seconds": round(time.monotonic() - started, 1),
            "listed_songs": len(seeds), "plays_listed": round(plays, 4)}


def _add_csr(writer, name: str, mat: sp.csr_matrix) -> None:
    mat = mat.tocsr()
    mat.sort_indices()
    writer.add_array(f"{name}.indptr", mat.indptr.astype(np.int64))
    writer.add_array(f"{name}.indices", mat.indices.astype(np.int32))
    writer.add_array(f"{name}.data", mat.data.astype(np.float32))


def _index(backend: str, vectors: np.ndarray, metric: str, queries: np.ndarray | None,
           target_recall: float, scan_fallback: bool = False) -> tuple[Any, dict[str, Any]]:
    """The tuned index; with ``scan_fallback``, an exact one when Annoy does not reach the
    target within ``search_k`` = the item count / ``SCAN_NODES_PER_ITEM`` (a scan then costs
    less and is exact), the tuning then stopping early (``choose_annoy_params``'
    ``early_stop``: no forest is built after one reaching the target or once it is out of
    reach)."""
    if backend == "annoy":
        tuning = choose_annoy_params(vectors, metric, target_recall=target_recall,
                                     queries=queries, n_queries=min(500, len(vectors)),
                                     max_search_k=len(vectors) // SCAN_NODES_PER_ITEM
                                     if scan_fallback else None, early_stop=scan_fallback)
        info = {"backend": "annoy", **tuning.as_manifest()}
        if not scan_fallback or tuning.reached:
            return tuning.index, info
        log.warning("%s index: annoy reached recall@10 %.3f at search_k %d (target %.2f); "
                    "an exact scan of %d items is cheaper", metric, tuning.recall,
                    tuning.search_k, target_recall, len(vectors))
        return build_index("exact", vectors, metric), {
            "backend": "exact", "recall_at_10": 1.0, "annoy_tuning": info}
    index = build_index(backend, vectors, metric)
    return index, {"backend": backend, "recall_at_10": 1.0 if backend == "exact" else None}


def build_bundle(
    store: ModelStore,
    model: TrainedModel,
    playlists: Sequence[Sequence[int]],
    songs: Mapping[int, Mapping[str, Any]],
    *,
    metrics: Mapping[str, Any] | None = None,
    data_snapshot: Mapping[str, Any] | None = None,
    training_run_id: int | None = None,
    backend: str = "annoy",
    target_recall: float = 0.95,
    version: str | None = None,
    list_workers: int | None = None,
) -> str:
    """Write a bundle for ``model`` into ``store``; returns its version (not promoted).

    Args:
        playlists: the training playlists (song ids), for the count tables.
        songs: metadata per song id: ``source``, ``external_id``, ``title``, ``artist`` and
            optionally ``available`` (false: recorded in ``hidden_ids``).
        backend: ``annoy`` (tuned to ``target_recall`` recall@10) or ``exact``.
        list_workers: processes computing the neighbour lists of large catalogs (default:
            one per CPU).
    """
    ids = np.asarray(model.song_ids, dtype=np.int64)
    missing = [int(i) for i in ids if int(i) not in songs]
    if missing:
        raise ValueError(f"no metadata for {len(missing)} songs, e.g. {missing[:5]}")
    row_of = {int(s): i for i, s in enumerate(ids)}
    writer = store.writer(version)
    try:
        log.info("building bundle %s: %d songs, dim %d", writer.version, len(ids),
                 model.in_vectors.shape[1])
        order = np.argsort(ids, kind="stable")
        writer.add_array("song_ids", ids)
        writer.add_array("lookup_ids", ids[order])
        writer.add_array("lookup_rows", order.astype(np.int64))
        writer.add_array("in_vectors", model.in_vectors.astype(np.float32))
        writer.add_array("out_vectors", model.out_vectors.astype(np.float32))
        writer.add_array("counts", np.asarray(model.counts, dtype=np.int64))
        _add_csr(writer, "transitions", pair_matrix(playlists, row_of, len(ids), window=1))
        _add_csr(writer, "cooc", cooccurrence_matrix(playlists, row_of, len(ids), window=0))
        s = model.settings
        if s.cooc_window > 0 or s.cooc_repeats:  # the next score counts pairs, not playlists
            _add_csr(writer, "cooc_scoring", cooccurrence_matrix(
                playlists, row_of, len(ids), window=s.cooc_window, repeats=s.cooc_repeats))
        columns = {c: [str(songs[int(i)].get(c, "")) for i in ids] for c in SONG_COLUMNS}
        for column, values in columns.items():
            writer.add_strings(column, values)
        writer.add_strings("song_json", [
            encode_song_json({"id": int(i), **{c: columns[c][row] for c in SONG_COLUMNS}})
            for row, i in enumerate(ids)])
        hidden = np.array(sorted(int(i) for i in ids if not songs[int(i)].get("available", True)),
                          dtype=np.int64)
        writer.add_array("hidden_ids", hidden)
        log.info("building ANN indexes (%s)", backend)
        scan = len(ids) > NEIGHBOURS_MAX_SONGS  # smaller catalogs: as tuned (yes_big's `next`
        # Annoy inspects 25,600 nodes for 9,698 songs; its lists are exact anyway)
        similar, similar_info = _index(backend, model.in_vectors, "cosine", None, target_recall,
                                       scan)
        writer.add_index("similar", similar)
        rng = np.random.default_rng(0)
        sample = rng.choice(len(ids), size=min(500, len(ids)), replace=False)
        queries = np.hstack([model.in_vectors[sample] * model.settings.next_w2v_weight,
                             np.ones((len(sample), 1), np.float32)])
        nxt, next_info = _index(backend, next_item_vectors(model), "dot", queries, target_recall,
                                scan)
        writer.add_index("next", nxt)
        neighbours = None
        if len(ids) <= NEIGHBOURS_MAX_SONGS and len(ids) > 1:
            log.info("computing exact neighbour lists (N=%d)", NEIGHBOURS_N)
            scorers = {"similar": similar_recommender(model),
                       "next": next_recommender(model, playlists)}
            for mode, scorer in scorers.items():
                nb_rows, nb_scores = neighbour_lists(scorer.score_rows, len(ids), NEIGHBOURS_N)
                writer.add_array(f"neighbours_{mode}_rows", nb_rows)
                writer.add_array(f"neighbours_{mode}_scores", nb_scores)
            neighbours = {"n": int(nb_rows.shape[1]), "exact": True,
                          "modes": list(scorers)}
        elif len(ids) <= APPROX_LISTS_MAX_SONGS:
            neighbours = _serving_lists(writer, model, list_workers)
        manifest = {
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "settings": model.settings.to_dict(),
            "training": dict(model.stats),
            "data_snapshot": dict(data_snapshot or {}),
            "metrics": dict(metrics or {}),
            "training_run_id": training_run_id,
            "n_songs": len(ids),
            "hidden_songs": len(hidden),
            "dim": int(model.in_vectors.shape[1]),
            "indexes": {"similar": similar_info, "next": next_info},
            "neighbours": neighbours,
            "libraries": library_versions(),
        }
        writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    return writer.version
