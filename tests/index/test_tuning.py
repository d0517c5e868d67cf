"""Recall measurement and Annoy parameter selection."""

from __future__ import annotations

import json

import numpy as np
import pytest

from recsys.index.annoy_index import AnnoyIndex
from recsys.index.exact import ExactIndex
from recsys.index.tuning import choose_annoy_params, exact_truth, measure_recall
from tests.index.conftest import clustered


@pytest.fixture(scope="module")
def catalog() -> np.ndarray:
    """3,000 x 32 clustered vectors (a small song catalog)."""
    return clustered(3000, 32, 40, 0.7, seed=11)


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_exact_recall_against_itself_is_one(catalog, metric):
    exact = ExactIndex.build(catalog, metric)
    assert measure_recall(exact, exact, catalog[:50], k=10) == 1.0
    assert measure_recall(exact, exact, catalog[:50], k=10, exclude=range(50)) == 1.0


def test_exact_truth_drops_the_query_item(catalog):
    exact = ExactIndex.build(catalog, "cosine")
    truth = exact_truth(exact, catalog[:5], 10, exclude=range(5))
    assert truth.shape == (5, 10)
    assert all(i not in row for i, row in enumerate(truth))


@pytest.mark.parametrize("metric", ["cosine", "dot"])
def test_chosen_annoy_params_reach_target_recall(catalog, metric):
    rng = np.random.default_rng(5)
    queries = None if metric == "cosine" else clustered(300, 32, 40, 0.7, seed=12)
    result = choose_annoy_params(catalog, metric, target_recall=0.95, queries=queries,
                                 n_queries=300, seed=3)
    assert result.reached and result.recall >= 0.95
    assert result.index is not None and result.index.params["search_k"] == result.search_k
    assert result.index.params["n_trees"] == result.n_trees
    manifest = result.as_manifest()
    json.dumps(manifest)
    assert manifest["recall_at_10"] == result.recall and manifest["k"] == 10
    assert any(row["recall"] < 0.95 for row in result.candidates)  # the sweep did sweep

    # the chosen setting generalises to queries not used for tuning
    exact = ExactIndex.build(catalog, metric)
    if queries is None:
        held_out = rng.choice(len(catalog), size=300, replace=False)
        recall = measure_recall(result.index, exact, catalog[held_out], exclude=held_out)
    else:
        recall = measure_recall(result.index, exact, clustered(300, 32, 40, 0.7, seed=14))
    assert recall >= 0.93


def test_explicit_queries_and_unreachable_target(catalog):
    queries = clustered(50, 32, 40, 0.7, seed=13)
    result = choose_annoy_params(catalog, "dot", target_recall=1.01, queries=queries,
                                 n_trees_grid=(2,), search_k_mults=(1, 2))
    assert not result.reached and result.n_queries == 50
    assert len(result.candidates) == 2
    assert isinstance(result.index, AnnoyIndex)


def test_max_search_k_bounds_the_sweep(catalog):
    kwargs = {"target_recall": 1.01, "n_trees_grid": (2, 4), "search_k_mults": (1, 4, 16, 64)}
    free = choose_annoy_params(catalog, "cosine", n_queries=40, **kwargs)
    assert max(c["search_k"] for c in free.candidates) > 600
    bounded = choose_annoy_params(catalog, "cosine", n_queries=40, max_search_k=600, **kwargs)
    assert not bounded.reached
    assert max(c["search_k"] for c in bounded.candidates) <= 600
    def key(rows):
        return [(c["n_trees"], c["search_k"], c["recall"]) for c in rows]
    assert key(bounded.candidates) == key(c for c in free.candidates if c["search_k"] <= 600)
