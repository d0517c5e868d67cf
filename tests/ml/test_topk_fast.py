"""The holdout scoring's bounded top k (recsys/ml/topk.py): same answers as a full sort, no
partition of every song per query, the bundle's session scores without a search per song."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index.build import build_bundle
from recsys.index.store import ModelStore
from recsys.jobs.evaluation import BundleNext, BundleSimilar, recommender_metrics
from recsys.ml import topk
from recsys.ml.base import MatrixRecommender
from recsys.ml.evaluate import rank_metrics, transitions_of
from recsys.ml.scoring import W2VNext, W2VSimilar
from recsys.ml.settings import TrainSettings
from recsys.ml.train import TrainedModel
from recsys.recommend.model import ServingModel

N_SONGS = 400


def test_top_k_hand_checked():
    scores = np.array([[0.1, 0.5, 0.5, 0.9, -np.inf],
                       [-np.inf, 2.0, 3.0, 1.0, 3.0]])
    idx, vals = topk.top_k(scores, 3)
    assert idx.tolist() == [[3, 1, 2], [2, 4, 1]]  # equal scores: the lower column first
    assert vals.tolist() == [[0.9, 0.5, 0.5], [3.0, 3.0, 2.0]]
    assert topk.top_k(scores, 2)[0].tolist() == [[3, 1], [2, 4]]
    assert topk.top_k(scores, 9)[0].tolist() == [[3, 1, 2, 0, 4], [2, 4, 1, 3, 0]]


@pytest.mark.parametrize("sample", [topk.SAMPLE, 16])
def test_top_k_equals_a_stable_sort(monkeypatch, sample):
    monkeypatch.setattr(topk, "SAMPLE", sample)
    rng = np.random.default_rng(3)
    for n in (3, 17, 1_000, 30_000):
        scores = rng.standard_normal((9, n)).astype(np.float32)
        scores[1] = np.round(scores[1], 1)  # many equal scores
        scores[2] = 0.0
        scores[3, ::2] = -5.0  # the best scores all off a stride of 2 (the sample's)
        scores[4, 0] = np.nan  # a row the threshold cannot bound: sorted whole
        for k in (1, 10):
            idx, vals = topk.top_k(scores, k)
            want = np.argsort(-scores, axis=1, kind="stable")[:, :k]
            assert np.array_equal(idx, want), (n, k)
            assert np.array_equal(vals, np.take_along_axis(scores, want, 1), equal_nan=True)


def _model(seed: int = 0) -> tuple[TrainedModel, list[list[int]], list[list[int]]]:
    """Random vectors (no two scores equal) and random playlists over ``N_SONGS`` songs."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1000, 1000 + N_SONGS, dtype=np.int64)
    settings = TrainSettings(vector_size=8, next_transition_weight=0.5, next_cooc_weight=0.2,
                             next_pop_weight=0.1)
    model = TrainedModel(ids, rng.standard_normal((N_SONGS, 8)).astype(np.float32),
                         rng.standard_normal((N_SONGS, 8)).astype(np.float32),
                         rng.integers(1, 50, N_SONGS), settings)
    lists = [rng.choice(ids, int(rng.integers(1, 12))).tolist() for _ in range(600)]
    return model, lists[:500], lists[500:]


def _reference(similar, nxt, holdout, tags, k=10):
    """next-song HR, continuation ranks and per-seed top k by the dense path of
    ``MatrixRecommender`` (a partition of every song per query)."""
    src, dst = transitions_of(holdout)
    seeds = nxt.rows_of(src)
    top = MatrixRecommender.topk_rows(nxt, seeds, k)[0]
    hits = [int(nxt.row_of(d) in t) for d, t in zip(dst, top, strict=True)]
    cont = []
    for p in holdout:
        if len(p) >= 2:
            recs = [s for s, _ in MatrixRecommender.recommend(nxt, p[:-1], k)]
            cont.append(recs.index(p[-1]) + 1 if p[-1] in recs else 0)
    tagged = np.array([i for i, s in enumerate(similar.item_ids) if tags.get(int(s))])
    return (float(np.mean(hits)), rank_metrics(np.array(cont), k),
            MatrixRecommender.topk_rows(similar, tagged, k)[0])


def _no_full_partition(monkeypatch):
    """Fail any partition or sort of a score row of every song (what the old path did per
    query; sorting the song ids once is no query's)."""
    for name in ("argpartition", "partition", "argsort"):
        real = getattr(np, name)

        def guarded(a, *args, _real=real, **kwargs):
            scores = np.asarray(a).dtype.kind == "f"
            assert not scores or np.shape(a)[-1] < N_SONGS, "a partition of every song"
            return _real(a, *args, **kwargs)

        monkeypatch.setattr(np, name, guarded)


@pytest.mark.parametrize("kind", ["trained", "bundle"])
def test_metrics_equal_the_dense_path_without_partitioning_every_song(monkeypatch, tmp_path,
                                                                      kind):
    monkeypatch.setattr(topk, "SAMPLE", 32)
    model, train, holdout = _model()
    if kind == "trained":
        similar, nxt = W2VSimilar(model), W2VNext(model, train, 1.0, 0.5, 0.2, 0.1)
    else:
        store = ModelStore(tmp_path / "store")
        songs = {int(i): {"source": "t", "external_id": str(i), "title": "t", "artist": "a"}
                 for i in model.song_ids}
        build_bundle(store, model, train, songs, version="v1", backend="exact")
        served = ServingModel.open(store.path("v1"))
        similar, nxt = BundleSimilar(served), BundleNext(served)
    tags = {int(s): frozenset({int(s) % 7, int(s) % 5 + 10}) for s in model.song_ids}
    hr, cont, tag_top = _reference(similar, nxt, holdout, tags)
    _no_full_partition(monkeypatch)
    got = recommender_metrics(similar, nxt, holdout, tags)
    assert got["next"]["hr@10"] == hr and 0 < hr < 1
    assert {key: got["next"][f"cont_{key}"] for key in cont} == cont
    tagged = np.array([i for i, s in enumerate(similar.item_ids) if tags.get(int(s))])
    assert np.array_equal(similar.topk_rows(tagged, 10)[0], tag_top)


def test_bundle_session_scores_are_the_served_ones_without_a_search_per_song(monkeypatch,
                                                                             tmp_path):
    model, train, _ = _model(1)
    store = ModelStore(tmp_path / "store")
    songs = {int(i): {"source": "t", "external_id": str(i), "title": "t", "artist": "a"}
             for i in model.song_ids}
    build_bundle(store, model, train, songs, version="v1", backend="exact")
    served = ServingModel.open(store.path("v1"))
    seeds = np.array([3, 17, 250, 17 + 1], dtype=np.int64)
    want = served.next_scores(seeds, np.arange(N_SONGS, dtype=np.int64))

    def searched(*args, **kwargs):
        raise AssertionError("count rows searched song by song")

    monkeypatch.setattr("recsys.recommend.model.gather", searched)
    got = BundleNext(served).score_seeds(seeds)
    assert got.dtype == want.dtype and np.array_equal(got, want)


def test_w2v_next_rows_add_only_the_stored_counts():
    model, train, _ = _model(2)
    rec = W2VNext(model, train, 1.0, 0.5, 0.2, 0.1)
    rows = np.array([0, 5, 399, 5])
    want = model.in_vectors[rows] @ model.out_vectors.T + rec._pop
    want += rec.transitions[rows].toarray()
    want += rec.cooccurrence[rows].toarray()
    assert np.array_equal(rec.score_rows(rows), want)
