"""Precomputed neighbour lists give the exact top-n; pre-serialised JSON equals the dict path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.index.build import neighbour_lists
from recsys.recommend import RecommendationService
from recsys.recommend.model import ServingModel
from tests.recommend.conftest import FakeCatalog, songs_for


def _served(store) -> ServingModel:
    return ServingModel.open(store.path(store.versions()[0]))


def _exact_scores(model: ServingModel, mode: str, seed: int) -> np.ndarray:
    """Every row's score for one seed, computed by the serving code (no lists, no ANN)."""
    everything = np.arange(len(model), dtype=np.int64)
    if mode == "next":
        return model.next_scores(np.array([seed]), everything)
    unit = model.in_vectors / np.linalg.norm(model.in_vectors, axis=1, keepdims=True)
    return unit @ unit[seed]


def _assert_exact_top(model, mode, seed, n, banned, got) -> None:
    scores_all = _exact_scores(model, mode, seed)
    cand = np.array([r for r in range(len(model)) if r != seed and r not in banned])
    order = np.lexsort((cand, -scores_all[cand]))[:n]
    rows = got.rows.tolist()
    assert len(rows) == min(n, len(cand))
    assert len(set(rows)) == len(rows) and not set(rows) & (banned | {seed})
    # the scores returned are the exact scores of the rows, and they are the best n scores
    np.testing.assert_allclose(got.scores, scores_all[got.rows], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got.scores, scores_all[cand[order]], rtol=1e-5, atol=1e-5)


def test_manifest_and_arrays(bundle_store):
    model = _served(bundle_store)
    info = model.manifest["neighbours"]
    assert info["exact"] is True and set(info["modes"]) == {"similar", "next"}
    n_lists = min(100, len(model) - 1)
    assert info["n"] == n_lists
    for mode in ("similar", "next"):
        rows, scores = model.neighbours[mode]
        assert rows.dtype == np.int32 and scores.dtype == np.float32
        assert rows.shape == scores.shape == (len(model), n_lists)
        assert not (rows == np.arange(len(model))[:, None]).any()  # never the song itself
        assert (np.diff(scores, axis=1) <= 0).all()  # best first


@pytest.mark.parametrize("mode", ["similar", "next"])
def test_lists_are_exact_for_every_song(bundle_store, mode):
    model = _served(bundle_store)
    rng = np.random.default_rng(1)
    assert mode in model.neighbours
    for seed in range(len(model)):
        for n, n_excluded in ((10, 0), (1, 0), (30, 0), (10, 3), (10, 25)):
            banned = {int(r) for r in rng.choice(len(model), size=n_excluded, replace=False)}
            got = model._from_lists(mode, seed, n, banned)
            assert got is not None
            _assert_exact_top(model, mode, seed, n, banned, got)
            # candidates() takes that path for one seed
            via = model.candidates(mode, np.array([seed]), n, banned)
            assert via.rows.tolist() == got.rows.tolist()


@pytest.mark.parametrize("mode", ["similar", "next"])
def test_lists_equal_exact_backend_computation(bundle_store, mode):
    """On the exact backend the computed (list-free) path agrees with the lists."""
    if bundle_store.versions()[0] != "exact" or mode == "next":
        pytest.skip("the computed path is exact only for `similar` on the exact backend")
    model = _served(bundle_store)
    lists = model.neighbours
    for seed in range(0, len(model), 3):
        for banned in (set(), {(seed + 1) % len(model), (seed + 7) % len(model)}):
            fast = model.candidates(mode, np.array([seed]), 10, banned)
            model.neighbours = {}
            try:
                slow = model.candidates(mode, np.array([seed]), 10, banned)
            finally:
                model.neighbours = lists
            np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-5, atol=1e-5)
            assert set(fast.rows.tolist()) == set(slow.rows.tolist())


def test_computed_next_path_finds_the_exact_top(bundle_store, monkeypatch):
    """Without lists (huge catalogs, filters past the list) one seed's ``next`` candidates come
    from a pool of each term's best; it must be wide enough to hold the blended top 10."""
    import recsys.recommend.model as served

    model = _served(bundle_store)
    monkeypatch.setattr(model, "neighbours", {})
    every = np.arange(len(model))

    def overlap() -> float:
        total = 0
        for seed in range(len(model)):
            scores = model.next_scores(np.array([seed]), every)
            scores[seed] = -np.inf
            exact = set(np.argsort(-scores, kind="stable")[:10].tolist())
            total += len(exact & set(model.candidates("next", np.array([seed]), 10,
                                                      set()).rows.tolist()))
        return total / (10 * len(model))

    assert overlap() >= 0.998
    monkeypatch.setattr(served, "POOL_WIDTH", 1)  # the pool of the top 10 per term misses some
    assert overlap() < 0.998


def test_too_short_lists_fall_back(bundle_store):
    model = _served(bundle_store)
    n_lists = model.neighbours["similar"][0].shape[1]
    if n_lists < len(model) - 1:
        assert model._from_lists("similar", 0, n_lists + 1, set()) is None
        got = model.candidates("similar", np.array([0]), n_lists + 1, set())
        assert len(got.rows) == n_lists + 1
    # several seeds never use the lists
    two = model.candidates("similar", np.array([0, 1]), 5, set())
    assert not {0, 1} & set(two.rows.tolist())


@pytest.fixture(scope="module")
def short_lists_store(tmp_path_factory, blend_model, planted_playlists):
    """An exact-backend bundle whose lists hold only 10 neighbours per song."""
    from recsys.index import build
    from recsys.index.store import ModelStore

    store = ModelStore(tmp_path_factory.mktemp("store-short"))
    saved, build.NEIGHBOURS_N = build.NEIGHBOURS_N, 10
    try:
        build.build_bundle(store, blend_model, planted_playlists,
                           songs_for(blend_model.song_ids), backend="exact", version="short")
    finally:
        build.NEIGHBOURS_N = saved
    return store


@pytest.mark.parametrize("mode", ["similar", "next"])
def test_short_lists_fall_back_to_computed_path(short_lists_store, mode):
    model = _served(short_lists_store)
    assert model.manifest["neighbours"]["n"] == 10
    lists = model.neighbours

    def computed(seed, n, banned):
        model.neighbours = {}
        try:
            return model.candidates(mode, np.array([seed]), n, banned)
        finally:
            model.neighbours = lists

    for seed in range(0, len(model), 5):
        listed = lists[mode][0][seed].tolist()
        for n, banned in ((10, set()), (11, set()), (8, set(listed[:2])),
                          (8, set(listed[:3])), (30, {listed[0]})):
            got = model.candidates(mode, np.array([seed]), n, banned)
            short = n > 10 - len(banned)
            assert (model._from_lists(mode, seed, n, banned) is None) == short
            if short:  # the ANN path answered: same as without lists
                want = computed(seed, n, banned)
                assert got.rows.tolist() == want.rows.tolist()
            else:
                _assert_exact_top(model, mode, seed, n, banned, got)


def test_neighbour_lists_small_catalog():
    vectors = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    rows, scores = neighbour_lists(lambda r: vectors[r] @ vectors.T, 5, n_neighbours=100)
    assert rows.shape == (5, 4)
    for i in range(5):
        want = sorted((j for j in range(5) if j != i), key=lambda j: -(vectors[i] @ vectors[j]))
        assert rows[i].tolist() == want
    rows, _ = neighbour_lists(lambda r: vectors[r] @ vectors.T, 5, n_neighbours=2,
                              chunk_cells=7)  # one row per chunk
    assert rows.shape == (5, 2)


@pytest.mark.parametrize("large", [False, True], ids=["decoded", "bundle-json"])
def test_similar_json_equals_dict_path(bundle_store, blend_model, planted_playlists, large,
                                       monkeypatch):
    if large:  # as for catalogs above DECODE_MAX_SONGS: JSON read from the bundle's column
        monkeypatch.setattr("recsys.recommend.metadata.DECODE_MAX_SONGS", 0)
    model = _served(bundle_store)
    assert model.song_json is not None
    assert isinstance(model.song_json, list) is not large
    svc = RecommendationService(model, FakeCatalog(songs_for(blend_model.song_ids),
                                                   planted_playlists))
    ids = [int(i) for i in model.song_ids]
    cases = [dict(), dict(k=1), dict(k=25, mode="next"), dict(k=5, exclude=ids[1:6]),
             dict(k=7, max_per_artist=1), dict(k=7, mode="next", max_per_artist=2,
                                               exclude=[ids[3], 999_999]),
             dict(k=len(ids) - 1)]
    for song_id in ids[::7]:
        for options in cases:
            text = svc.similar_json(song_id, **options)
            body = svc.similar(song_id, **options)
            # Flask's jsonify (sorted keys, compact, ASCII) writes the same bytes
            assert text == json.dumps(body, sort_keys=True, separators=(",", ":"))
            assert json.loads(text) == body


def test_similar_json_declines_and_validates(bundle_store, blend_model, planted_playlists):
    model = _served(bundle_store)
    svc = RecommendationService(model, FakeCatalog(songs_for(blend_model.song_ids),
                                                   planted_playlists))
    song_id = int(model.song_ids[0])
    assert svc.similar_json(song_id, explain=True) is None
    assert svc.similar_json(999_999) is None  # not in the model: the dict path answers
    with pytest.raises(ValueError):
        svc.similar_json(song_id, k=0)
    with pytest.raises(ValueError):
        svc.similar_json(song_id, mode="nope")
