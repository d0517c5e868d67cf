from __future__ import annotations

import numpy as np

from recsys.ml.baselines import (
    PopularityRecommender,
    cooccurrence_matrix,
    cooccurrence_recommender,
    pair_matrix,
    transition_recommender,
)

PLAYLISTS = [[5, 7, 9], [7, 9], [9, 5, 5], [11]]


def test_popularity():
    rec = PopularityRecommender(PLAYLISTS)
    # counts: 5 x3, 7 x2, 9 x3, 11 x1; ties broken by stable order of ids
    assert [s for s, _ in rec.recommend([11], 3)] == [5, 9, 7]
    assert [s for s, _ in rec.recommend([5], 2)] == [9, 7]


def test_transition_counts_are_directed():
    row_of = {5: 0, 7: 1, 9: 2, 11: 3}
    t = pair_matrix(PLAYLISTS, row_of, 4, window=1).toarray()
    expected = np.zeros((4, 4))
    expected[0, 1] = 1  # 5->7
    expected[1, 2] = 2  # 7->9 twice
    expected[2, 0] = 1  # 9->5 (5->5 self transition dropped)
    assert np.array_equal(t, expected)
    rec = transition_recommender(PLAYLISTS)
    assert rec.recommend([7], 1)[0][0] == 9
    assert rec.recommend([9], 1)[0][0] == 5


def test_cooccurrence_whole_playlist_and_windowed():
    row_of = {5: 0, 7: 1, 9: 2, 11: 3}
    c = cooccurrence_matrix(PLAYLISTS, row_of, 4).toarray()
    assert np.array_equal(c, c.T)
    assert c[0, 2] == 2  # 5 and 9 share two playlists (repeats count once)
    assert c[1, 2] == 2 and c[0, 1] == 1 and c[3].sum() == 0 and np.trace(c) == 0
    w1 = cooccurrence_matrix(PLAYLISTS, row_of, 4, window=1).toarray()
    assert w1[0, 2] == 1 and w1[2, 0] == 1  # (9,5) once; (5,5) self pair dropped
    assert w1[0, 1] == 1 and w1[1, 0] == 1
    rec = cooccurrence_recommender(PLAYLISTS)
    assert [s for s, _ in rec.recommend([7], 2)] == [9, 5]


def test_cooccurrence_with_repeats_counts_pairs_of_plays():
    row_of = {5: 0, 7: 1, 9: 2, 11: 3}
    r = cooccurrence_matrix(PLAYLISTS + [[5, 9, 9, 5, 5]], row_of, 4, repeats=True).toarray()
    assert np.array_equal(r, r.T) and np.trace(r) == 0
    # 5 and 9: 1*1 in [5,7,9], 2*1 in [9,5,5], 3*2 in [5,9,9,5,5]
    assert r[0, 2] == 1 + 2 + 6
    assert r[1, 2] == 2 and r[0, 1] == 1 and r[3].sum() == 0
    binary = cooccurrence_matrix(PLAYLISTS + [[5, 9, 9, 5, 5]], row_of, 4).toarray()
    assert binary[0, 2] == 3


def test_batch_path_matches_single_path(planted):
    rec = cooccurrence_recommender(planted)
    rows = np.arange(rec.n_items)
    ids = rec.topk_ids(rows, 5)
    for r in range(0, rec.n_items, 17):
        single = [s for s, _ in rec.recommend([int(rec.item_ids[r])], 5)]
        assert single == list(ids[r])


def test_popularity_tie_break_survives_large_counts():
    # 0 co-occurs 300 times with both 1 and 2; 2 is more popular (extra single-song plays),
    # so the tie must go to 2 on both paths.  In float32, 300 + 1e-6 * pop / max == 300 and
    # the tie used to be resolved by row order instead (1 first).
    rec = cooccurrence_recommender([[0, 1, 2]] * 300 + [[2]] * 50)
    assert list(rec.topk_ids(np.array([rec.row_of(0)]), 2)[0]) == [2, 1]
    assert [s for s, _ in rec.recommend([0], 2)] == [2, 1]


def test_popularity_needs_no_known_seed():
    rec = PopularityRecommender(PLAYLISTS)
    assert [s for s, _ in rec.recommend([999], 2)] == [5, 9]  # unknown seed: still popular
    assert [s for s, _ in rec.recommend([999], 2, exclude=[5])] == [9, 7]


def test_pairs_of_plays_baseline_and_log_summed_sessions():
    plays = cooccurrence_recommender(PLAYLISTS, repeats=True)
    assert plays.name == "cooccurrence_plays"
    # 5 with 9: 1x1 in [5,7,9] + 2x1 in [9,5,5] = 3; 5 with 7: 1
    row = plays.score_rows(plays.rows_of([5]))[0]
    assert row[plays.row_of(9)] == 3.0 + plays._tie[plays.row_of(9)]
    assert row[plays.row_of(7)] == 1.0 + plays._tie[plays.row_of(7)]
    assert [s for s, _ in plays.recommend([5], 2)] == [9, 7]
    # several seeds: log1p counts summed per seed, so one seed's big count does not drown
    # the other's evidence; a repeated seed counts once (as the server counts it)
    rec = cooccurrence_recommender(PLAYLISTS)
    scores = dict(rec.recommend([7, 9, 7], 3))
    assert scores[5] == np.log1p(1) + np.log1p(2) + rec._tie[rec.row_of(5)]  # 7~5 once, 9~5 twice
    assert rec.recommend([7, 9, 7], 3) == rec.recommend([7, 9], 3)
