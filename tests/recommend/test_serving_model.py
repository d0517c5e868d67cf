"""The served scores equal the offline-evaluated scorers; Annoy stays close to exact."""

from __future__ import annotations

import numpy as np

from recsys.ml.scoring import next_recommender, similar_recommender
from recsys.recommend.model import ServingModel


def _served(store):
    return ServingModel.open(store.path(store.versions()[0]))


def test_row_lookup(bundle_store, blend_model):
    model = _served(bundle_store)
    for row, song_id in enumerate(blend_model.song_ids[:20]):
        assert model.row_of(int(song_id)) == row
    assert model.row_of(999_999) is None
    assert model.row_of(-1) is None


def test_metadata_from_bundle(bundle_store):
    model = _served(bundle_store)
    song = model.song(model.row_of(101))
    assert song == {"id": 101, "source": "planted", "external_id": "101",
                    "title": "Song 101", "artist": "Artist 1-0"}


def test_next_matches_offline_scorer(bundle_store, blend_model, planted_playlists):
    model = _served(bundle_store)
    offline = next_recommender(blend_model, planted_playlists)
    hits = total = 0
    for song_id in (0, 103, 207, 315, 419):
        seeds = np.array([model.row_of(song_id)])
        got = model.candidates("next", seeds, 10, set())
        want = [s for s, _ in offline.recommend([song_id], 10)]
        got_ids = [int(model.song_ids[r]) for r in got.rows]
        hits += len(set(got_ids) & set(want))
        total += 10
        if bundle_store.versions()[0] == "exact":
            assert got_ids == want
            expected = dict(offline.recommend([song_id], 10))
            for r, score in zip(got.rows, got.scores, strict=True):
                assert abs(expected[int(model.song_ids[r])] - score) < 1e-3
    assert hits / total >= 0.9


def test_session_next_matches_offline_scorer(bundle_store, blend_model, planted_playlists):
    """Several seeds: the served candidates and scores are the offline session scores."""
    model = _served(bundle_store)
    offline = next_recommender(blend_model, planted_playlists)
    hits = 0
    sessions = ((0, 1, 2), (103, 207), (315, 419, 400, 5))
    for session in sessions:
        seeds = np.array([model.row_of(s) for s in session])
        got = model.candidates("next", seeds, 10, set())
        want = offline.recommend(list(session), 10)
        got_ids = [int(model.song_ids[r]) for r in got.rows]
        hits += len(set(got_ids) & {s for s, _ in want})
        assert not set(got_ids) & set(session)
        expected = dict(offline.recommend(list(session), len(model)))
        for r, score in zip(got.rows, got.scores, strict=True):
            assert abs(expected[int(model.song_ids[r])] - score) < 1e-3
        assert list(got.scores) == sorted(got.scores, reverse=True)
        if bundle_store.versions()[0] == "exact":  # the same top 10, up to float32 near-ties
            assert got.scores[-1] >= want[-1][1] - 1e-3
    assert hits / (10 * len(sessions)) >= 0.9


def test_similar_matches_offline_scorer(bundle_store, blend_model):
    model = _served(bundle_store)
    offline = similar_recommender(blend_model)
    hits = 0
    for song_id in (1, 102, 204):
        got = model.candidates("similar", np.array([model.row_of(song_id)]), 10, set())
        want = {s for s, _ in offline.recommend([song_id], 10)}
        hits += len({int(model.song_ids[r]) for r in got.rows} & want)
    assert hits / 30 >= 0.9


def test_planted_successor_is_first_for_next(bundle_store):
    model = _served(bundle_store)
    correct = 0
    for song_id in range(0, 20):
        got = model.candidates("next", np.array([model.row_of(song_id)]), 1, set())
        correct += int(model.song_ids[got.rows[0]]) == (song_id + 1) % 20
    assert correct >= 18


def test_explain_counts_shared_playlists(bundle_store, planted_playlists):
    model = _served(bundle_store)
    seed, other = 5, 6
    expected = sum(1 for p in planted_playlists if seed in p and other in p)
    pairs = [pair for p in planted_playlists for pair in zip(p, p[1:], strict=False)]
    follows = pairs.count((5, 6))
    why = model.explain(np.array([model.row_of(seed)]), np.array([model.row_of(other)]))
    assert why == [{"playlists_with_seeds": expected, "times_after_seeds": follows}]
    assert expected > 0


def test_cooc_repeats_bundle_serves_the_offline_scores(tmp_path, blend_model,
                                                       planted_playlists):
    """``cooc_repeats``: the bundle's scoring table counts pairs of plays, as offline."""
    import dataclasses

    from recsys.index.build import build_bundle
    from recsys.index.store import ModelStore
    from tests.recommend.conftest import songs_for

    repeated = [[0, 1, 0, 2, 0], [103, 104, 103], [207, 0, 207]]
    playlists = list(planted_playlists) + repeated
    model = dataclasses.replace(
        blend_model, settings=blend_model.settings.replace(cooc_repeats=True, next_cooc_weight=2.0))
    store = ModelStore(tmp_path)
    build_bundle(store, model, playlists, songs_for(model.song_ids), backend="exact",
                 version="v", metrics={}, data_snapshot={})
    served = ServingModel.open(store.path("v"))
    r0, r1 = served.row_of(0), served.row_of(1)
    assert served.cooc_scoring[r0, r1] == served.cooc[r0, r1] + 2  # [0,1,0,2,0]: 3*1 vs 1
    offline = next_recommender(model, playlists)
    for session in ((0,), (103, 207), (0, 1, 2)):
        seeds = np.array([served.row_of(s) for s in session])
        got = served.candidates("next", seeds, 10, set())
        expected = dict(offline.recommend(list(session), len(served)))
        for r, score in zip(got.rows, got.scores, strict=True):
            assert abs(expected[int(served.song_ids[r])] - score) < 1e-3
