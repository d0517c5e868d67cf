"""The counting baselines' sparse top-k: the answers of the dense path, without its cost.

``CountRecommender`` and ``PopularityRecommender`` answer ``topk_rows`` and ``recommend``
from a seed's sparse row and the popularity order (the dense path scored and partitioned a
row of every song per seed: 284 s of a 250,000-song run, docs/benchmarks.md §19). Equal
scores go to the lower row; the dense path left them to ``argpartition``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.ml import baselines
from recsys.ml.base import MatrixRecommender
from recsys.ml.baselines import (
    CountRecommender,
    PopularityRecommender,
    cooccurrence_matrix,
    item_index,
    pair_matrix,
    transition_recommender,
)
from recsys.ml.evaluate import evaluate

TRAIN = [[1, 2, 3], [1, 2], [2, 3], [4, 1]]
HOLDOUT = [[1, 3, 4], [3, 2]]


def test_hand_checked_transition_metrics():
    """Transitions 1->2 (2), 2->3 (2), 4->1 (1); plays 1:3, 2:3, 3:2, 4:1. At k=2 the lists
    are 1: [2, 3], 2: [3, 1], 3: [1, 2] (1 and 2 equally played: the lower first), 4: [1, 2];
    held-out 1->3 rank 2, 3->4 miss, 3->2 rank 2; continuation [1, 3] -> 4: [2, 4] rank 2,
    [3] -> 2: rank 2."""
    rec = transition_recommender(TRAIN)
    assert rec.topk_ids(rec.rows_of([1, 2, 3, 4]), 2).tolist() == [[2, 3], [3, 1], [1, 2],
                                                                  [1, 2]]
    assert [s for s, _ in rec.recommend([1, 3], 2)] == [2, 4]
    row = evaluate("transitions", rec, HOLDOUT, k=2)
    assert row["hr@2"] == pytest.approx(2 / 3) and row["mrr@2"] == pytest.approx(1 / 3)
    assert row["ndcg@2"] == pytest.approx(2 / math.log2(3) / 3)
    assert row["cont_hr@2"] == 1.0 and row["cont_mrr@2"] == pytest.approx(0.5)
    assert row["coverage"] == pytest.approx(3 / 4)  # seeds 1 and 3 list songs 1, 2, 3
    pop = evaluate("popularity", PopularityRecommender(TRAIN), HOLDOUT, k=2)
    assert pop["hr@2"] == pytest.approx(2 / 3) and pop["coverage"] == pytest.approx(3 / 4)


def random_playlists(seed: int = 3) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [rng.choice(300, size=int(rng.integers(2, 12))).tolist() for _ in range(800)]


def recommenders(lists, seed: int = 0) -> list[CountRecommender]:
    """The four count tables of ``lists`` with popularity counts all different (a random
    permutation): no two scores are then equal, so the dense path's order is the only one."""
    ids = item_index(lists)
    row_of = {int(s): i for i, s in enumerate(ids)}
    pop = np.random.default_rng(seed).permutation(len(ids)).astype(np.float64) + 1
    tables = [pair_matrix(lists, row_of, len(ids)), cooccurrence_matrix(lists, row_of, len(ids)),
              cooccurrence_matrix(lists, row_of, len(ids), repeats=True),
              cooccurrence_matrix(lists, row_of, len(ids), window=2)]
    return [CountRecommender(ids, table, pop) for table in tables]


def dense(rec: CountRecommender) -> CountRecommender:
    """The same recommender on the dense path (the code before the sparse one)."""
    rec._sparse = False
    return rec


@pytest.mark.parametrize("which", range(4))
def test_sparse_top_k_is_the_dense_one(which):
    lists = random_playlists()
    rec, ref = recommenders(lists)[which], dense(recommenders(lists)[which])
    rows = np.arange(rec.n_items)
    got, want = rec.topk_rows(rows, 10), ref.topk_rows(rows, 10)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    rng = np.random.default_rng(0)
    for _ in range(100):  # sessions, with repeated seeds and excluded songs
        seeds = rng.choice(rec.item_ids, size=int(rng.integers(1, 30))).tolist()
        exclude = rng.choice(rec.item_ids, size=3).tolist()
        assert rec.recommend(seeds, 10, exclude) == ref.recommend(seeds, 10, exclude)


def test_metrics_are_the_dense_ones():
    lists = random_playlists(5)
    train, test = lists[::2], lists[1::2]
    for rec, ref in zip(recommenders(train), map(dense, recommenders(train)), strict=True):
        got, want = evaluate("x", rec, test), evaluate("x", ref, test)
        got.pop("eval_s"), want.pop("eval_s")
        assert got == want
    pop = PopularityRecommender(train)  # with counts all different, as above
    pop._log = np.log1p(np.random.default_rng(1).permutation(pop.n_items) + 1.0).astype(
        np.float32)
    pop._order = np.argsort(-pop._log.astype(np.float64), kind="stable")
    got = evaluate("x", pop, test)
    pop.topk_rows = lambda rows, k: MatrixRecommender.topk_rows(pop, rows, k)
    want = evaluate("x", pop, test)
    got.pop("eval_s"), want.pop("eval_s")
    assert got == want


def test_no_dense_rows(monkeypatch):
    """Neither path scores a dense row of every song (or sorts every song per call)."""
    lists = random_playlists()
    recs = recommenders(lists)
    pop = PopularityRecommender(lists)

    def refuse(*args, **kwargs):
        raise AssertionError("dense scoring")

    for rec in recs:
        monkeypatch.setattr(rec, "score_rows", refuse)
        monkeypatch.setattr(rec, "score_seeds", refuse)
    monkeypatch.setattr(pop, "score_rows", refuse)
    monkeypatch.setattr(np, "argsort", refuse)  # popularity's recommend sorted every song
    for rec in [*recs, pop]:
        assert len(rec.topk_rows(np.arange(20), 10)[0]) == 20
        assert len(rec.recommend([1, 2, 3], 10)) == 10


def test_counts_below_the_tie_break_keep_the_dense_path():
    """A table with a stored value under the tie-break's range cannot be ranked by its
    entries first: it is scored densely, as before."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(np.array([[0, 1e-9, 0], [2, 0, 0], [0, 0, 0]], np.float32))
    rec = CountRecommender(np.array([10, 11, 12]), matrix, np.array([1.0, 5.0, 9.0]))
    assert not rec._sparse
    assert rec.topk_ids(np.array([0]), 2).tolist() == [[12, 11]]  # popularity outweighs


def test_flatten_maps_without_a_lookup_per_item():
    """Unknown songs become -1, empty playlists add nothing, a generator is read once; the
    mapping is read whole (keys and values), not once per play."""

    class NoGet(dict):
        def get(self, *args):
            raise AssertionError("a look-up per item")

        __getitem__ = get

    row_of = NoGet({5: 2, 7: 0, 9: 1})
    rows, pids = baselines._flatten((p for p in [[5, 7], [], [8, 9, 5]]), row_of)
    assert rows.tolist() == [2, 0, -1, 1, 2] and pids.tolist() == [0, 0, 2, 2, 2]
    assert baselines.item_index(p for p in [[9, 5], [5, 1]]).tolist() == [1, 5, 9]
