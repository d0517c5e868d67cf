"""The build's bounded Annoy sweep stops building forests early (``early_stop``).

Large catalogs build a forest of 80 trees in a minute: the sweep stops once a forest reaches
the target, or once :func:`out_of_reach` sees from the trend that none will.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index import tuning
from recsys.index.annoy_index import AnnoyIndex
from recsys.index.tuning import choose_annoy_params, out_of_reach
from tests.index.conftest import clustered


def test_out_of_reach_on_the_measured_trends():
    """Best recall per forest (5, 10, 20 ... trees) of a 250,192-song model's sweep
    (docs/benchmarks.md §19); none of its forests reached 0.95 (cosine 0.89, dot 0.32)."""
    assert not out_of_reach([0.701], 4, 0.95)  # one forest shows no trend
    assert out_of_reach([0.701, 0.7342], 3, 0.95)  # cosine: +0.16 logit a forest
    assert not out_of_reach([0.007, 0.1108], 3, 0.95)  # dot: a steep start ...
    assert out_of_reach([0.007, 0.1108, 0.123], 2, 0.95)  # ... then flat
    assert not out_of_reach([0.80, 0.85], 3, 0.95)  # within reach at twice the trend
    assert not out_of_reach([0.5, 0.6], 0, 0.95)  # no forest left: nothing to stop
    assert out_of_reach([0.6, 0.5], 3, 0.95)  # a falling trend counts as no gain


@pytest.fixture
def builds(monkeypatch) -> list[int]:
    """The forest sizes built, in order."""
    sizes: list[int] = []
    build = AnnoyIndex.build.__func__

    def counted(cls, data, metric, n_trees, **kwargs):
        sizes.append(n_trees)
        return build(cls, data, metric, n_trees=n_trees, **kwargs)

    monkeypatch.setattr(AnnoyIndex, "build", classmethod(counted))
    return sizes


def test_an_easy_set_stops_at_the_first_forest(builds):
    """Clustered vectors reach the target with 5 trees (not at the smallest search_k, so the
    full sweep builds larger forests looking for a cheaper setting, and keeps 5 trees)."""
    data = clustered(3000, 32, 40, 0.7, seed=11)
    kwargs = {"n_queries": 100, "max_search_k": len(data) // 4, "seed": 0}
    full = choose_annoy_params(data, "cosine", **kwargs)
    full_builds = list(builds)
    builds.clear()
    early = choose_annoy_params(data, "cosine", early_stop=True, **kwargs)
    assert full.reached and len(full_builds) > 1
    assert early.reached and builds == [5]
    assert (early.n_trees, early.search_k, early.recall) == (full.n_trees, full.search_k,
                                                             full.recall)


def test_an_unreachable_dot_product_set_falls_back_after_few_builds(builds):
    """Isotropic Gaussian vectors: dot-product recall within search_k = n / 4 stays far below
    the target whatever the forest (the full grid: 0.84 at 80 trees); the early sweep gives
    up after the trend of two forests."""
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4000, 32)).astype(np.float32)
    queries = rng.standard_normal((100, 32)).astype(np.float32)
    kwargs = {"queries": queries, "max_search_k": len(data) // 4}
    full = choose_annoy_params(data, "dot", **kwargs)
    assert not full.reached and builds == list(tuning.DEFAULT_N_TREES_GRID)
    builds.clear()
    early = choose_annoy_params(data, "dot", early_stop=True, **kwargs)
    assert not early.reached and builds == [5, 10]
    assert {c["n_trees"] for c in early.candidates} == {5, 10}


def test_without_early_stop_the_sweep_is_unchanged(builds):
    """Small catalogs (no ``early_stop``) sweep as before: every forest of an unreachable
    target is built."""
    data = clustered(1500, 16, 20, 0.6, seed=3)
    result = choose_annoy_params(data, "cosine", target_recall=1.01, n_queries=30,
                                 n_trees_grid=(2, 4, 8), search_k_mults=(1, 2))
    assert not result.reached and builds == [2, 4, 8]


def test_the_bounded_build_tunes_with_early_stop(builds):
    """``build._index`` with ``scan_fallback`` (catalogs above the exact-list limit) stops
    after two forests on the unreachable set and serves an exact scan, as the full grid did."""
    from recsys.index import build as build_mod

    rng = np.random.default_rng(0)
    data = rng.standard_normal((4000, 32)).astype(np.float32)
    queries = rng.standard_normal((100, 32)).astype(np.float32)
    index, info = build_mod._index("annoy", data, "dot", queries, 0.95, scan_fallback=True)
    assert builds == [5, 10] and index.backend == "exact"
    assert info["annoy_tuning"]["reached"] is False
    builds.clear()
    index, info = build_mod._index("annoy", data, "dot", queries, 0.95)  # small catalogs
    assert builds == list(tuning.DEFAULT_N_TREES_GRID) and index.backend == "annoy"
