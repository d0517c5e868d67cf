"""Lists over an exact index: a matrix product per block of seeds, the top of each row found
above a sampled threshold (``block_top``), the candidates scored again as the scan scores them.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index.exact import ExactIndex
from recsys.recommend import lists
from recsys.recommend.lists import block_top, serving_lists
from recsys.recommend.model import MODES
from tests.recommend.conftest import build_as_large, served_and_bare


def reference(block: np.ndarray, want: int) -> list[list[int]]:
    """Every column sorted: best first, equal scores by the lower column."""
    return [np.lexsort((np.arange(len(row)), -row))[:want].tolist() for row in block]


@pytest.mark.parametrize("want", [1, 33, 129])
def test_block_top_is_the_sorted_top(want):
    rng = np.random.default_rng(want)
    block = rng.standard_normal((16, 50_000)).astype(np.float32)
    block[3, 100:140] = block[3].max() + 1  # 40 equal best scores: the lower columns first
    got = [row.tolist() for row in block_top(block, want)]
    assert got == reference(block, want)


def test_a_row_unlike_its_sample_is_partitioned_whole():
    """Every sampled column of the row holds the row's best scores, so the threshold leaves
    too few columns: that row falls back to a partition of all its columns."""
    block = np.random.default_rng(0).random((2, 40_000)).astype(np.float32)
    stride = max(1, 40_000 // lists.SAMPLE)
    block[0, ::stride] += 10
    assert [row.tolist() for row in block_top(block, 33)] == reference(block, 33)


def test_small_blocks():
    block = np.random.default_rng(1).random((3, 20)).astype(np.float32)
    assert [row.tolist() for row in block_top(block, 5)] == reference(block, 5)
    assert [row.tolist() for row in block_top(block, 50)] == reference(block, 20)


@pytest.fixture(scope="module")
def exact_store(tmp_path_factory, blend_model, planted_playlists):
    from recsys.index.store import ModelStore

    store = ModelStore(tmp_path_factory.mktemp("exact-lists"))
    return build_as_large(store, blend_model, planted_playlists, "exact", 2)


@pytest.mark.parametrize("mode", MODES)
def test_no_scan_per_seed(exact_store, monkeypatch, mode):
    """The lists of an exact index are the one-seed answers, computed without one index
    query per seed."""
    _, bare = served_and_bare(exact_store)
    want = [bare.candidates(mode, np.array([s]), 8, set()) for s in range(len(bare))]

    def refuse(*args, **kwargs):
        raise AssertionError("one scan per seed")

    monkeypatch.setattr(ExactIndex, "query", refuse)
    monkeypatch.setattr(lists, "BATCH", 7)  # blocks of seeds that do not divide the catalog
    rows, scores = serving_lists(bare, mode, 8, workers=1)
    for seed, found in enumerate(want):
        assert rows[seed].tolist() == found.rows.tolist()
        np.testing.assert_array_equal(scores[seed], found.scores)
