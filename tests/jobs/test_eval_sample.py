"""A large holdout is scored on a stable, nested part of it (at most EVAL_MAX_TRANSITIONS
transitions), and tag coherence on a stable sample of songs: the nightly evaluation stays
bounded on a large catalog, and the gate scores both models on the same playlists."""

from __future__ import annotations

import pytest

from recsys.jobs import data
from recsys.ml.evaluate import stable_sample


def _transitions(playlists):
    return sum(max(len(p) - 1, 0) for p in playlists)


def test_a_small_holdout_is_scored_whole(sample_engine):
    whole = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.2)
    scored, frac = data.load_holdout(sample_engine, holdout_frac=0.2)
    assert scored == whole and frac == 0.2


@pytest.mark.parametrize("cap", [50, 400])
def test_a_large_holdout_is_cut_to_a_smaller_nested_holdout(sample_engine, cap):
    whole = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.3)
    assert _transitions(whole) > cap
    scored, frac = data.load_holdout(sample_engine, holdout_frac=0.3, max_transitions=cap)
    assert 0 < frac < 0.3 and 0 < len(scored) < len(whole)
    assert _transitions(scored) <= cap
    # exactly the holdout of the smaller fraction: nested, and the same in every run
    assert scored == data.load_playlists(sample_engine, part="holdout", holdout_frac=frac)
    assert data.load_holdout(sample_engine, holdout_frac=0.3, max_transitions=cap) == (
        scored, frac)
    # as much as fits: the next bucket up would have gone over the cap
    more = data.load_playlists(sample_engine, part="holdout", holdout_frac=frac + 1e-4)
    bigger = frac + 1e-4
    while more == scored:
        bigger += 1e-4
        more = data.load_playlists(sample_engine, part="holdout", holdout_frac=bigger)
    assert _transitions(more) > cap


def test_stable_sample_is_bounded_deterministic_and_keeps_most_as_the_set_grows():
    ids = list(range(5_000))
    sample = stable_sample(ids, 500)
    assert len(sample) == 500 and sample == sorted(sample) and set(sample) <= set(ids)
    assert stable_sample(reversed(ids), 500) == sample
    assert sample != list(range(500))  # not simply the lowest ids
    assert stable_sample(ids[:300], 500) == list(range(300))
    grown = stable_sample(list(range(5_500)), 500)
    assert len(set(grown) & set(sample)) >= 400


def test_training_and_the_gate_score_the_same_bounded_sample(small_db, store, quick_settings,
                                                             monkeypatch, caplog):
    import logging

    from recsys.index.registry import promote
    from recsys.jobs.gate import gate
    from recsys.jobs.training import train_and_bundle

    caplog.set_level(logging.INFO, logger="recsys.jobs")
    monkeypatch.setattr(data, "EVAL_MAX_TRANSITIONS", 300)
    monkeypatch.setattr(data, "EVAL_MAX_TAG_SEEDS", 40)
    first = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                             backend="exact")
    scored, frac = data.load_holdout(small_db, holdout_frac=0.2, max_transitions=300)
    assert first.metrics["holdout_playlists"] == len(scored)
    assert first.metrics["holdout_frac_scored"] == frac < 0.2
    assert first.metrics["next"]["n_queries"] == _transitions(scored)
    assert "tagged songs" in caplog.text and "at most 300 transitions" in caplog.text
    promote(small_db, store, first.version)
    second = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                              backend="exact")
    decision = gate(small_db, store, second.version, holdout_frac=0.2)
    assert decision.candidate["holdout_playlists"] == len(scored)
    assert decision.production["holdout_playlists"] == len(scored)
    assert decision.differences["similar tag_coherence"].n == 40
