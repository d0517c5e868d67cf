"""Hand-computed metric cases on a 3-item catalog."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.ml.base import MatrixRecommender
from recsys.ml.evaluate import (
    continuation_metrics,
    evaluate,
    format_table,
    jaccard,
    next_song_metrics,
    next_song_ranks,
    rank_metrics,
    split_playlists,
    split_train_val_test,
    tag_coherence,
    tag_coherence_per_seed,
)


class Fixed(MatrixRecommender):
    """Items 1, 2, 3 with a fixed score matrix (diagonal is ignored: seeds never returned).

    ranking from 1: [2, 3]; from 2: [3, 1]; from 3: [1, 2]
    """

    SCORES = np.array([[9.0, 0.9, 0.5],
                       [0.2, 9.0, 0.8],
                       [0.7, 0.1, 9.0]], dtype=np.float32)

    def __init__(self):
        super().__init__([1, 2, 3])

    def score_rows(self, rows):
        return self.SCORES[rows]


def test_recommend_excludes_seeds():
    rec = Fixed()
    assert [s for s, _ in rec.recommend([1], 5)] == [2, 3]
    assert [s for s, _ in rec.recommend([1], 5, exclude=[2])] == [3]
    # two seeds: sum of rows, both seeds excluded -> only 3 (0.5 + 0.8)
    assert rec.recommend([1, 2], 5) == [(3, pytest.approx(1.3))]
    assert rec.recommend([99], 5) == []


def test_next_song_hand_computed():
    # 1->2 rank 1; 2->1 rank 2; 3->9 unknown target: a miss
    res = next_song_metrics(Fixed(), [[1, 2], [2, 1], [3, 9]], k=2)
    assert res["hr@2"] == pytest.approx(2 / 3)
    assert res["mrr@2"] == pytest.approx((1 + 1 / 2) / 3)
    assert res["ndcg@2"] == pytest.approx((1 + 1 / math.log2(3)) / 3)
    assert res["unknown_frac"] == pytest.approx(1 / 3)
    assert res["n_queries"] == 3
    assert res["coverage"] == pytest.approx(1.0)


def test_next_song_ranks_per_transition():
    # transitions in playlist order: 1->2 (rank 1), 2->3 (1), 3->2 (2), 2->1 (2), 3->9 (unknown)
    ranks, top, unknown = next_song_ranks(Fixed(), [[1, 2, 3, 2], [2, 1], [3, 9]], k=2)
    np.testing.assert_array_equal(ranks, [1, 1, 2, 2, 0])
    assert top.shape == (3, 2) and unknown == pytest.approx(1 / 5)


def test_k1_and_coverage():
    res = next_song_metrics(Fixed(), [[1, 2], [2, 1]], k=1)
    assert res["hr@1"] == pytest.approx(0.5)
    assert res["coverage"] == pytest.approx(2 / 3)  # top-1 lists are {2} and {3}


def test_rank_metrics_empty_and_basic():
    assert rank_metrics(np.array([], dtype=np.int64), 10)["hr@10"] == 0.0
    got = rank_metrics(np.array([1, 0, 3]), 10)
    assert got["mrr@10"] == pytest.approx((1 + 1 / 3) / 3)


def test_continuation_hand_computed():
    res = continuation_metrics(Fixed(), [[1, 2, 3], [3, 2], [1]], k=1)
    # [1,2]->3: only 3 remains -> hit at 1; [3]->2: top-1 from 3 is 1 -> miss; [1] skipped
    assert res["cont_n"] == 2
    assert res["cont_hr@1"] == pytest.approx(0.5)


def test_jaccard_and_tag_coherence():
    assert jaccard({1, 2}, {2}) == pytest.approx(0.5)
    assert jaccard(set(), set()) == 0.0
    tags = {1: frozenset({10, 11}), 2: frozenset({11}), 3: frozenset({12})}
    # top-1: 1->2 (J=1/2), 2->3 (0), 3->1 (0)
    assert tag_coherence(Fixed(), tags, k=1) == pytest.approx(1 / 6)
    # seeds without tags are skipped; untagged results count 0
    assert tag_coherence(Fixed(), {1: frozenset({10})}, k=1) == pytest.approx(0.0)
    # restricted to given seed songs (two models compared on the songs both know)
    assert tag_coherence(Fixed(), tags, k=1, seeds={1}) == pytest.approx(1 / 2)
    assert tag_coherence(Fixed(), tags, k=1, seeds={2, 3}) == pytest.approx(0.0)
    seeds, values = tag_coherence_per_seed(Fixed(), tags, k=2, seeds={3, 1})
    # top-2: 1 -> [2, 3]: (1/2 + 0) / 2; 3 -> [1, 2]: (0 + 0) / 2
    np.testing.assert_array_equal(seeds, [1, 3])
    np.testing.assert_allclose(values, [0.25, 0.0])


def test_splits_are_seeded_disjoint_and_complete():
    data = [[i, i + 1] for i in range(100)]
    tr, te = split_playlists(data, 0.2, seed=3)
    assert len(te) == 20 and len(tr) == 80
    assert split_playlists(data, 0.2, seed=3) == (tr, te)
    assert split_playlists(data, 0.2, seed=4)[1] != te
    tr3, va3, te3 = split_train_val_test(data, 0.1, 0.2, seed=3)
    assert te3 == te
    assert len(va3) == 10 and len(tr3) == 70
    keys = [tuple(p) for p in tr3 + va3 + te3]
    assert sorted(keys) == sorted(tuple(p) for p in data)
    with pytest.raises(ValueError):
        split_playlists(data, 1.5)


def test_evaluate_row_and_table_are_serialisable():
    import json

    row = evaluate("fixed", Fixed(), [[1, 2, 3]], k=2, tags={1: frozenset({1})})
    json.dumps(row)
    table = format_table([row], ["method", "hr@2", "tag_coherence"])
    assert "| fixed |" in table and table.count("\n") == 2
    assert "fixed" in format_table([row], markdown=False)
