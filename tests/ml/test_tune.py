from __future__ import annotations

import pytest

from recsys.ml.evaluate import split_train_val_test
from recsys.ml.settings import TrainSettings
from recsys.ml.tune import tune

from .conftest import make_planted


def test_tune_grid_sorted_and_blends_without_retraining():
    tr, va, _ = split_train_val_test(make_planted(300, seed=3), 0.2, 0.2, seed=0)
    base = TrainSettings(vector_size=8, negative=5, sample=0.0, epochs=5, workers=1)
    space = {"window": [1, 3], "next_transition_weight": [0.0, 1.0]}
    res = tune(tr, va, space, base=base, tags={100: frozenset({1})})
    assert len(res) == 4
    assert [r["hr@10"] for r in res] == sorted((r["hr@10"] for r in res), reverse=True)
    assert {(r["window"], r["next_transition_weight"]) for r in res} == {
        (1, 0.0), (1, 1.0), (3, 0.0), (3, 1.0)}
    assert all("sim_tag_coherence" in r and "train_s" in r for r in res)
    one = tune(tr, va, space, base=base, n_trials=1, seed=5)
    assert len(one) == 2 and len({r["window"] for r in one}) == 1


def test_tune_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown"):
        tune([[1, 2]], [[1, 2]], {"bogus": [1]})
