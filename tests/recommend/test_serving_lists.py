"""Large catalogs: neighbour lists computed with the ANN index equal the server's answers."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index import build as build_mod
from recsys.index.store import ModelStore
from recsys.recommend.lists import exact_top, list_recall, serving_lists
from recsys.recommend.model import MODES, ServingModel
from tests.recommend.conftest import build_as_large, served_and_bare, songs_for


@pytest.fixture(scope="module", params=["exact", "annoy"])
def large_store(request, tmp_path_factory, blend_model, planted_playlists):
    """Bundles built as for a catalog above the exact-lists limit (limit patched to 0)."""
    store = ModelStore(tmp_path_factory.mktemp(f"large-{request.param}"))
    return build_as_large(store, blend_model, planted_playlists, request.param, 2)


_pair = served_and_bare


def test_manifest_records_approximate_lists(large_store, blend_model):
    served, bare = _pair(large_store)
    info = served.manifest["neighbours"]
    assert info["exact"] is False and info["n"] == build_mod.APPROX_LISTS_N
    assert sorted(info["modes"]) == sorted(MODES) and set(served.neighbours) == set(MODES)
    for mode in MODES:
        rows, scores = served.neighbours[mode]
        assert rows.shape == (len(blend_model.song_ids), build_mod.APPROX_LISTS_N)
        assert info["recall_at_10"][mode] == pytest.approx(list_recall(bare, mode, rows),
                                                           abs=1e-4)
    if served.manifest["indexes"]["similar"]["backend"] == "exact":
        assert info["recall_at_10"]["similar"] == 1.0  # exact index: the lists are exact


@pytest.mark.parametrize("mode", MODES)
def test_lists_are_the_servers_own_answers(large_store, mode):
    served, bare = _pair(large_store)
    rows, scores = served.neighbours[mode]
    for seed in range(0, len(served), 3):
        want = bare.candidates(mode, np.array([seed]), build_mod.APPROX_LISTS_N, set())
        assert rows[seed].tolist() == want.rows.tolist()
        np.testing.assert_allclose(scores[seed], want.scores, rtol=1e-6)
        assert seed not in rows[seed].tolist()
        # a one-seed request within the list length is answered from the list, same items
        got = served.candidates(mode, np.array([seed]), 10, {int(want.rows[0])})
        assert served._from_lists(mode, seed, 10, {int(want.rows[0])}) is not None
        assert got.rows.tolist() == want.rows[1:11].tolist()


def test_parallel_lists_equal_serial(large_store, caplog):
    _, bare = _pair(large_store)
    with caplog.at_level("INFO", logger="recsys.index"):
        one = serving_lists(bare, "next", 8, workers=1, chunk=50)
    assert f"next lists: {len(bare)}/{len(bare)} songs (100%" in caplog.text  # progress
    two = serving_lists(bare, "next", 8, workers=2, chunk=50)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    with pytest.raises(ValueError):
        serving_lists(ServingModel.open(large_store.path("v")), "next", 8)


def test_exact_top_is_a_scan(large_store):
    _, bare = _pair(large_store)
    unit = bare.in_vectors / np.linalg.norm(bare.in_vectors, axis=1, keepdims=True)
    for seed in (0, 7):
        cos = unit @ unit[seed]
        cos[seed] = -np.inf
        assert exact_top(bare, "similar", seed, 5).tolist() == np.argsort(-cos)[:5].tolist()
        nxt = bare.next_scores(np.array([seed]), np.arange(len(bare)))
        nxt[seed] = -np.inf
        assert exact_top(bare, "next", seed, 5).tolist() == np.argsort(-nxt)[:5].tolist()


def test_no_lists_above_the_size_limit(tmp_path, blend_model, planted_playlists, monkeypatch):
    monkeypatch.setattr(build_mod, "NEIGHBOURS_MAX_SONGS", 0)
    monkeypatch.setattr(build_mod, "APPROX_LISTS_MAX_SONGS", 10)
    store = ModelStore(tmp_path)
    build_mod.build_bundle(store, blend_model, planted_playlists,
                           songs_for(blend_model.song_ids), backend="exact", version="v")
    model = ServingModel.open(store.path("v"))
    assert model.manifest["neighbours"] is None and model.neighbours == {}


@pytest.mark.parametrize("mode", MODES)
def test_list_recall_measures_against_exact_search(large_store, mode):
    _, bare = _pair(large_store)
    exact = np.stack([exact_top(bare, mode, s, 10) for s in range(len(bare))])
    assert list_recall(bare, mode, exact) == 1.0
    half = exact.copy()
    wrong = np.array([[r for r in range(len(bare)) if r not in set(exact[s]) and r != s][:5]
                      for s in range(len(bare))])
    half[:, 5:] = wrong  # five of every ten replaced by songs outside the exact top 10
    assert list_recall(bare, mode, half) == pytest.approx(0.5)
