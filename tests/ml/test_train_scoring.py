"""word2vec on a planted corpus: clusters and successors must be recovered."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from recsys.ml.baselines import PopularityRecommender
from recsys.ml.evaluate import next_song_metrics, split_playlists, tag_coherence
from recsys.ml.scoring import W2VNext, W2VSimilar, next_recommender, similar_recommender
from recsys.ml.settings import TrainSettings
from recsys.ml.train import load_vectors, save_vectors, train

from .conftest import genre_of, make_planted, next_of


def test_model_shapes_and_stats(planted_model):
    m = planted_model
    assert len(m) == 100 and m.in_vectors.shape == m.out_vectors.shape == (100, 16)
    assert m.in_vectors.dtype == np.float32
    assert set(int(s) for s in m.song_ids) == {g * 100 + j for g in range(5) for j in range(20)}
    assert m.stats["epochs"] == 30 and m.stats["vocab_size"] == 100
    assert m.stats["duration_s"] > 0 and m.stats["words_per_s"] > 0
    assert m.row_of(m.song_ids[3]) == 3 and m.row_of(-5) is None


def test_similar_recovers_genres(planted_model):
    rec = similar_recommender(planted_model)
    precision = []
    for song in planted_model.song_ids:
        recs = rec.recommend([int(song)], 10)
        assert int(song) not in [s for s, _ in recs]
        precision.append(np.mean([genre_of(s) == genre_of(int(song)) for s, _ in recs]))
    assert np.mean(precision) > 0.8  # random would be ~0.19


def test_next_dot_recovers_successor(planted_model):
    rec = W2VNext(planted_model)
    hits = [next_of(int(s)) in [r for r, _ in rec.recommend([int(s)], 3)]
            for s in planted_model.song_ids]
    assert np.mean(hits) > 0.8


def test_next_blend_with_transitions_is_directional(planted, planted_model):
    settings = planted_model.settings.replace(next_transition_weight=1.0)
    rec = next_recommender(planted_model, planted, settings)
    top1 = [rec.recommend([int(s)], 1)[0][0] for s in planted_model.song_ids]
    assert np.mean([t == next_of(int(s)) for s, t in zip(planted_model.song_ids, top1,
                                                          strict=True)]) > 0.9
    with pytest.raises(ValueError):
        W2VNext(planted_model, None, transition_weight=1.0)


def test_next_session_score_by_hand(planted, planted_model):
    """Several seeds: mean-input-vector dot + popularity once + counts summed over the seeds."""
    m = planted_model
    rec = W2VNext(m, planted, w2v_weight=0.7, transition_weight=0.3, cooc_weight=2.0,
                  pop_weight=0.5)
    seeds = [int(m.song_ids[r]) for r in (0, 21, 42)]
    rows = [m.row_of(s) for s in seeds]
    trans, cooc = np.zeros((len(m), len(m))), np.zeros((len(m), len(m)))
    for playlist in planted:
        r = [m.row_of(s) for s in playlist]
        for a, b in zip(r, r[1:], strict=False):
            trans[a, b] += 1
        for a in set(r):
            for b in set(r) - {a}:
                cooc[a, b] += 1
    want = (0.7 * m.in_vectors[rows].mean(axis=0) @ m.out_vectors.T
            + 0.5 * np.log(np.maximum(m.counts, 1))
            + 0.3 * np.log1p(trans[rows]).sum(axis=0) + 2.0 * np.log1p(cooc[rows]).sum(axis=0))
    got = dict(rec.recommend(seeds, 20))
    assert len(got) == 20 and not set(seeds) & set(got)
    for song, score in got.items():
        assert score == pytest.approx(want[m.row_of(song)], abs=1e-4)
    best = [int(m.song_ids[r]) for r in np.argsort(-np.where(np.isin(np.arange(len(m)), rows),
                                                             -np.inf, want))[:20]]
    assert list(got) == best
    # one seed: the session formula is the single-seed formula
    single = rec.recommend([seeds[0]], 5)
    row = rec.score_rows(np.array([rows[0]]))[0]
    assert [s for s, _ in single] == [int(m.song_ids[r]) for r in
                                      np.argsort(-np.where(np.arange(len(m)) == rows[0],
                                                           -np.inf, row))[:5]]


def test_heldout_evaluation_beats_popularity():
    data = make_planted(600, seed=11)
    tr, te = split_playlists(data, 0.2, seed=0)
    m = train(tr, TrainSettings(vector_size=16, window=2, negative=5, sample=0.0, epochs=20,
                                workers=1))
    hr_next = next_song_metrics(W2VNext(m), te)["hr@10"]
    hr_pop = next_song_metrics(PopularityRecommender(tr), te)["hr@10"]
    assert hr_next > 0.8 > 0.3 > hr_pop
    tags = {int(s): frozenset({genre_of(int(s))}) for s in m.song_ids}
    assert tag_coherence(W2VSimilar(m), tags) > 0.9


def test_streamed_and_in_memory_paths_train(planted, caplog):
    calls = []

    def batches():
        calls.append(1)
        for i in range(0, len(planted), 64):
            yield planted[i:i + 64]

    s = TrainSettings(vector_size=8, epochs=3, workers=1, use_corpus_file=False, sample=0.0)
    progress = []
    with caplog.at_level(logging.INFO, logger="recsys.ml"):
        m = train(batches, s, progress_callback=lambda e, n, t: progress.append((e, n)))
    assert len(m) == 100 and len(calls) >= 2  # vocab scan + epochs restart the generator
    assert progress == [(1, 3), (2, 3), (3, 3)]
    assert any("epoch 3/3" in r.getMessage() for r in caplog.records)
    m2 = train(planted, s.replace(use_corpus_file=True))
    assert len(m2) == 100


def test_empty_corpus_raises():
    with pytest.raises(ValueError):
        train([[1], [2]], TrainSettings(epochs=1, workers=1))


def test_save_load_roundtrip_without_pickle(planted_model, tmp_path):
    out = save_vectors(planted_model, tmp_path / "vec")
    assert sorted(p.name for p in out.iterdir()) == [
        "counts.npy", "in_vectors.npy", "out_vectors.npy", "song_ids.npy", "vectors.json"]
    m = load_vectors(out)
    assert np.array_equal(m.song_ids, planted_model.song_ids)
    assert np.allclose(m.in_vectors, planted_model.in_vectors)
    assert np.allclose(m.out_vectors, planted_model.out_vectors)
    assert m.settings == planted_model.settings and m.stats == planted_model.stats
    (out / "vectors.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError):
        load_vectors(out)
