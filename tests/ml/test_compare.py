"""Side-by-side evaluation: every method on the same queries, progress in the log."""

from __future__ import annotations

from recsys.ml import compare
from recsys.ml.settings import TrainSettings
from tests.ml.conftest import genre_of, make_planted

QUICK = TrainSettings(vector_size=16, window=3, negative=5, epochs=3, workers=1, min_count=1)


def test_a_held_out_file_fits_the_counts_once_and_logs_each_method(monkeypatch, caplog):
    fit, test = make_planted(300, seed=1), make_planted(60, seed=2)
    tags = {s: frozenset({genre_of(s)}) for p in fit for s in p}
    calls = []
    real = compare.baseline_rows
    monkeypatch.setattr(compare, "baseline_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    caplog.set_level("INFO", logger="recsys.ml")
    result = compare.compare_methods(fit, tags, QUICK, seeds=(0, 1), test=test)
    assert len(calls) == 1  # the counts do not depend on word2vec's seed
    by_seed = {}
    for row in result["runs"]:
        by_seed.setdefault(row["method"], {})[row["seed"]] = row["hr@10"]
    for name in compare.BASELINES:  # the same figures on both seeds, each row its own copy
        assert by_seed[name][0] == by_seed[name][1]
    assert result["runs"][0] is not result["runs"][len(result["runs"]) // 2]
    summary = {row["method"]: row for row in result["summary"]}
    assert summary["p2v_next"]["hr@10"] > summary["popularity"]["hr@10"]  # planted successors
    lines = caplog.text
    for name in (*compare.BASELINES, "handson_w2v_cosine", "p2v_similar", "p2v_next"):
        assert f"evaluated {name}: next HR@10" in lines
    assert lines.count("evaluated p2v_next") == 2 and lines.count("evaluated popularity") == 1
