"""Catalogs above the list limit: only the most-played songs get a list, the others are
answered by the index search, with the same items a list would give."""

from __future__ import annotations

import os

import numpy as np
import pytest

from recsys.index import build as build_mod
from recsys.index.store import ModelStore
from recsys.recommend.lists import listed_seeds, serving_lists
from recsys.recommend.model import MODES
from tests.recommend.conftest import build_as_large, served_and_bare

LISTED = 60


@pytest.fixture(scope="module", params=["exact", "annoy"])
def partial_store(request, tmp_path_factory, blend_model, planted_playlists):
    store = ModelStore(tmp_path_factory.mktemp(f"partial-{request.param}"))
    return build_as_large(store, blend_model, planted_playlists, request.param, 1,
                          APPROX_LISTS_MAX_SEEDS=LISTED)


_pair = served_and_bare


def test_listed_seeds_are_the_most_played():
    counts = np.array([5, 9, 5, 1, 9, 7])
    assert listed_seeds(counts, 3).tolist() == [1, 4, 5]
    assert listed_seeds(counts, 4).tolist() == [0, 1, 4, 5]  # a tie goes to the lower row
    assert listed_seeds(counts, 6).tolist() == list(range(6))
    assert listed_seeds(counts, 10).tolist() == list(range(6))


def test_only_the_most_played_songs_have_lists(partial_store, blend_model):
    served, _ = _pair(partial_store)
    assert len(served) > LISTED
    counts = np.asarray(blend_model.counts)
    seeds = served.listed_seeds
    assert len(seeds) == LISTED and np.all(np.diff(seeds) > 0)
    unlisted = np.setdiff1d(np.arange(len(served)), seeds)
    assert counts[seeds].min() >= counts[unlisted].max()
    info = served.manifest["neighbours"]
    assert info["listed_songs"] == LISTED
    assert info["plays_listed"] == pytest.approx(counts[seeds].sum() / counts.sum(), abs=1e-4)
    for mode in MODES:
        assert served.neighbours[mode][0].shape == (LISTED, build_mod.APPROX_LISTS_N)
    # under their own names: a server reading only full lists searches the index instead
    assert not served.bundle.has("neighbours_next_rows.npy")


@pytest.mark.parametrize("mode", MODES)
def test_list_and_search_answer_the_same_items(partial_store, mode):
    """A listed seed gets the first items of the index's answer for the list length (what the
    list holds), an unlisted one the index's answer; the exact backend gives both at once."""
    served, bare = _pair(partial_store)
    listed = set(served.listed_seeds.tolist())
    exact = served.manifest["indexes"][mode]["backend"] == "exact"
    for seed in range(len(served)):
        one = np.array([seed])
        full = bare.candidates(mode, one, build_mod.APPROX_LISTS_N, set())
        search = bare.candidates(mode, one, 10, set())
        assert (served._from_lists(mode, seed, 10, set()) is not None) == (seed in listed)
        got = served.candidates(mode, one, 10, set())
        if seed in listed:
            assert got.rows.tolist() == full.rows[:10].tolist()
            np.testing.assert_allclose(got.scores, full.scores[:10], rtol=1e-6)
            skip = {int(full.rows[0])}
            assert (served.candidates(mode, one, 10, skip).rows.tolist()
                    == full.rows[1:11].tolist())
        if seed not in listed or exact:
            assert got.rows.tolist() == search.rows.tolist()
            np.testing.assert_allclose(got.scores, search.scores, rtol=1e-6)


def test_lists_of_some_seeds_equal_those_of_every_seed(partial_store):
    _, bare = _pair(partial_store)
    seeds = np.array([3, 0, 17, 41])
    some = serving_lists(bare, "next", 8, workers=1, seeds=seeds)
    every = serving_lists(bare, "next", 8, workers=1)
    np.testing.assert_array_equal(some[0], every[0][seeds])
    np.testing.assert_array_equal(some[1], every[1][seeds])


def test_lists_over_a_scan_run_in_one_process(partial_store, monkeypatch):
    """A scan uses every core through BLAS already: no forked workers by default."""
    from recsys.recommend import lists as lists_mod

    _, bare = _pair(partial_store)
    exact = bare.indexes["next"].backend == "exact"
    forked = []
    real = lists_mod.multiprocessing.get_context
    monkeypatch.setattr(lists_mod.multiprocessing, "get_context",
                        lambda *a: forked.append(a) or real(*a))
    serving_lists(bare, "next", 8, seeds=np.arange(20), chunk=5)
    if exact:
        assert not forked
    else:  # Annoy: one worker per CPU
        assert bool(forked) == ((os.cpu_count() or 1) > 1)


def test_fixture_backends(partial_store, request):
    """The Annoy bundle keeps Annoy indexes (the paths above are tested over both)."""
    served, _ = _pair(partial_store)
    backend = request.node.callspec.params["partial_store"]
    assert {served.manifest["indexes"][m]["backend"] for m in MODES} == {backend}
