"""Training runs, the promotion gate, and the nightly job's failure behaviour."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from recsys.db.models import TrainingRun
from recsys.db.session import session_scope
from recsys.jobs import nightly, training
from recsys.jobs.gate import compare
from recsys.jobs.nightly import ImportSpec, JobLockedError, job_lock, run_nightly
from recsys.jobs.training import train_and_bundle


def _runs(engine):
    with session_scope(engine) as session:
        return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id)))


def _random_pair_jaccard(engine) -> float:
    import random

    from recsys.jobs.data import load_tags
    from recsys.ml.evaluate import jaccard

    sets, rnd = list(load_tags(engine).values()), random.Random(0)
    return sum(jaccard(*rnd.sample(sets, 2)) for _ in range(5000)) / 5000


def test_training_run_is_recorded_with_metrics(sample_engine, store, quick_settings):
    outcome = train_and_bundle(sample_engine, store, quick_settings, holdout_frac=0.2,
                               backend="exact")
    assert store.versions() == [outcome.version]
    assert store.current_version() is None  # training never promotes by itself
    (run,) = _runs(sample_engine)
    assert run.status == "succeeded" and run.model_version == outcome.version
    assert run.settings["epochs"] == 20 and run.words_per_sec > 0
    assert run.data_snapshot["playlists"] == 800
    assert 0 < run.metrics["next"]["hr@10"] <= 1
    # planted genres make "similar" results share tags with the seed, far above chance
    assert run.metrics["similar"]["tag_coherence"] > 2 * _random_pair_jaccard(sample_engine)
    manifest = store.open(outcome.version).manifest
    assert manifest["metrics"]["next"]["hr@10"] == run.metrics["next"]["hr@10"]
    assert manifest["training_run_id"] == run.id


def test_training_run_records_counting_baselines(sample_engine, store, quick_settings):
    """The run's baselines are those of the same train/holdout cut, scored independently."""
    from recsys.jobs import data
    from recsys.ml.baselines import cooccurrence_recommender
    from recsys.ml.evaluate import evaluate

    train_and_bundle(sample_engine, store, quick_settings, holdout_frac=0.2, backend="exact")
    (run,) = _runs(sample_engine)
    base = run.metrics["baselines"]
    names = ("popularity", "transitions", "cooccurrence", "cooccurrence_plays")
    assert set(base) == {*names, "next_hr_over_best"}
    train = data.load_playlists(sample_engine, part="train", holdout_frac=0.2)
    holdout = data.load_playlists(sample_engine, part="holdout", holdout_frac=0.2)
    cooc = evaluate("cooc", cooccurrence_recommender(train), holdout)
    assert base["cooccurrence"]["hr@10"] == cooc["hr@10"]
    assert base["cooccurrence"]["cont_hr@10"] == cooc["cont_hr@10"]
    plays = evaluate("plays", cooccurrence_recommender(train, repeats=True), holdout)
    assert base["cooccurrence_plays"]["hr@10"] == plays["hr@10"]
    best = max(base[m]["hr@10"] for m in names)
    assert base["next_hr_over_best"] == pytest.approx(run.metrics["next"]["hr@10"] / best)
    # the sample's planted successors: transitions and co-occurrence far above popularity
    assert base["transitions"]["hr@10"] > 2 * base["popularity"]["hr@10"]


def test_failed_training_is_recorded_and_leaves_nothing(sample_engine, store, quick_settings):
    with pytest.raises(ValueError, match="empty vocabulary"):
        train_and_bundle(sample_engine, store, quick_settings.replace(min_count=10_000),
                         backend="exact")
    (run,) = _runs(sample_engine)
    assert run.status == "failed" and "vocabulary" in run.error
    assert store.versions() == []


def test_gate_compare():
    prod = {"next": {"hr@10": 0.20}, "similar": {"tag_coherence": 0.5}}
    assert compare({"next": {"hr@10": 0.20}, "similar": {"tag_coherence": 0.5}}, prod, 0)[0]
    assert not compare({"next": {"hr@10": 0.19}, "similar": {"tag_coherence": 0.6}}, prod, 0)[0]
    assert compare({"next": {"hr@10": 0.19}, "similar": {"tag_coherence": 0.6}}, prod, 0.1)[0]
    assert not compare({"next": {"hr@10": 0.3}, "similar": {"tag_coherence": 0.4}}, prod, 0)[0]


def test_gate_compare_within_noise():
    from recsys.ml.significance import PairedDifference

    prod = {"next": {"hr@10": 0.20}, "similar": {"tag_coherence": 0.5}}
    cand = {"next": {"hr@10": 0.19}, "similar": {"tag_coherence": 0.5}}
    diffs = {"next hr@10": PairedDifference(-0.01, 0.008, 900),
             "similar tag_coherence": PairedDifference(0.0, 0.001, 50)}
    ok, reason = compare(cand, prod, 0, diffs)  # noise_z 0: the point estimates decide
    assert not ok and "diff -0.0100 ± 0.0080 SE" in reason
    # readable names, not the stored keys (operators read it in the log and the dashboard)
    assert reason.startswith("next-song HR@10 0.1900 vs 0.2000 (worse")
    assert "; similar-song tag coherence 0.5000 vs 0.5000 (ok" in reason
    ok, reason = compare(cand, prod, 0, diffs, noise_z=1.5)  # 1.25 SE below: noise
    assert ok and "ok within 1.5 SE" in reason
    assert not compare(cand, prod, 0, diffs, noise_z=1.0)[0]  # 1.25 SE below: worse
    assert not compare(cand, prod, 0, None, noise_z=5)[0]  # no paired measurement: strict
    tiny = {"next hr@10": PairedDifference(-0.00001, 0.0006, 900)}
    assert "diff +0.0000 ± 0.0006 SE" in compare(prod, prod, 0, tiny)[1]


def test_nightly_promotes_first_then_refuses_a_worse_model(small_db, store,
                                                           quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert first.promoted and store.current_version() == first.version
    bad = quick_settings.replace(vector_size=2, epochs=1, next_transition_weight=0.0,
                                 next_cooc_weight=0.0, window=1)
    second = run_nightly(small_db, store, bad, holdout_frac=0.2, backend="exact")
    assert not second.promoted and "worse" in second.reason
    assert store.current_version() == first.version
    assert set(store.versions()) == {first.version, second.version}
    # the report carries each candidate's ratio to the counting baselines, as its run recorded
    runs = {run.id: run for run in _runs(small_db)}
    for report in (first, second):
        recorded = runs[report.run_id].metrics["baselines"]["next_hr_over_best"]
        assert report.next_hr_over_best_baseline == recorded
    assert second.next_hr_over_best_baseline < first.next_hr_over_best_baseline
    # each run records the gate's decision for the dashboard
    gate1, gate2 = runs[first.run_id].metrics["gate"], runs[second.run_id].metrics["gate"]
    assert gate1["verdict"] == "promoted" and gate1["reason"] == "no model in production"
    assert gate2["verdict"] == "kept production" and gate2["reason"] == second.reason
    assert gate2["production_version"] == first.version and gate2["noise_z"] == 0.0
    nxt = gate2["metrics"]["next hr@10"]
    assert nxt["diff"] == pytest.approx(nxt["candidate"] - nxt["production"]) and nxt["se"] > 0


def test_equal_model_is_promoted(small_db, store, quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    again = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert again.promoted, again.reason
    assert store.current_version() == again.version != first.version


def test_gate_pairs_the_two_models_on_the_same_queries(small_db, store, quick_settings):
    from recsys.jobs.gate import gate

    run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    other = quick_settings.replace(vector_size=4, epochs=2, next_transition_weight=0.0)
    version = train_and_bundle(small_db, store, other, holdout_frac=0.2, backend="exact").version
    decision = gate(small_db, store, version, holdout_frac=0.2)
    for mode, metric in (("next", "hr@10"), ("similar", "tag_coherence")):
        diff = decision.differences[f"{mode} {metric}"]
        # paired over the same queries: the mean difference is the difference of the means
        expected = decision.candidate[mode][metric] - decision.production[mode][metric]
        assert diff.mean == pytest.approx(expected, abs=1e-9)
        assert diff.se > 0 and f"{diff.se:.4f} SE" in decision.reason
    assert decision.differences["next hr@10"].n == decision.candidate["next"]["n_queries"]
    assert "per_query" not in decision.candidate  # arrays stay out of the recorded metrics
    # the pairing: the standard error is the one of query-by-query differences, computed here
    # independently; any other alignment of the two models' hits gives another one
    from recsys.jobs import data
    from recsys.jobs.evaluation import BundleNext
    from recsys.ml.evaluate import next_song_ranks
    from recsys.ml.significance import paired_difference, transition_playlists
    from recsys.recommend.model import ServingModel

    holdout = data.load_playlists(small_db, part="holdout", holdout_frac=0.2)
    hits = {v: next_song_ranks(BundleNext(ServingModel.open(store.path(v))), holdout)[0] > 0
            for v in (version, decision.production_version)}
    cand, prod = hits[version], hits[decision.production_version]
    groups = transition_playlists(holdout)
    expected = paired_difference(cand, prod, groups)
    assert decision.differences["next hr@10"].se == pytest.approx(expected.se)
    shuffled = paired_difference(cand, prod[::-1], groups)
    assert shuffled.se != pytest.approx(expected.se)


def test_crash_mid_job_keeps_production(small_db, store, quick_settings, monkeypatch):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full while writing the bundle")

    monkeypatch.setattr(training, "build_bundle", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert store.current_version() == first.version
    assert store.versions() == [first.version]
    assert _runs(small_db)[-1].status == "failed"


def test_job_logs_each_import_once_and_ends_with_one_line(small_db, store, quick_settings,
                                                          tmp_path, caplog):
    new = tmp_path / "new.csv"
    new.write_text("playlist_id,position,song_id,title,artist\n"
                   "n1,0,x1,One,A\nn1,1,x2,Two,B\nn2,0,x2,Two,B\nn2,1,x3,Three,C\n")
    caplog.set_level("INFO", logger="recsys")
    report = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact",
                         imports=[ImportSpec("csv", str(new), "extra")])
    lines = [r.getMessage() for r in caplog.records]
    assert sum(f"imported {new}" in line for line in lines) == 1, lines  # the writer's line
    finished = [line for line in lines if line.startswith("nightly run finished")]
    assert finished == [f"nightly run finished: {report.log_line()}"]
    assert f"model {report.version} (run {report.run_id}) promoted" in finished[0]
    assert "1 import(s), 2 playlists added" in finished[0]


def test_bad_import_stops_the_job_before_training(small_db, store, quick_settings,
                                                  tmp_path):
    from recsys.ingest.model import IngestError

    bad = tmp_path / "bad.csv"
    bad.write_text("playlist_id,position,song_id,title,artist\np1,0,s1,Song,Artist\np1,x,s2\n")
    with pytest.raises(IngestError):
        run_nightly(small_db, store, quick_settings, imports=[ImportSpec("csv", str(bad))],
                    backend="exact")
    assert store.versions() == []  # nothing trained; the night is recorded as failed
    (run,) = _runs(small_db)
    assert run.status == "failed" and run.model_version is None and "bad.csv:3:" in run.error
    assert run.started_at < run.finished_at  # started when the job did, not when recorded


def test_only_one_run_at_a_time(tmp_path):
    lock = tmp_path / "retrain.lock"
    with job_lock(lock), pytest.raises(JobLockedError), job_lock(lock):
        pass
    with job_lock(lock):  # released after the first holder
        pass


def test_unknown_import_kind(sample_engine):
    with pytest.raises(ValueError, match="unknown import kind"):
        nightly.run_imports(sample_engine, [ImportSpec("xml", "x")])


def test_gate_scores_bundles_with_the_served_next_formula(small_db, store, quick_settings):
    import numpy as np

    from recsys.jobs.evaluation import BundleNext
    from recsys.recommend.model import ServingModel

    version = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                               backend="exact").version
    served = ServingModel.open(store.path(version))
    rows = np.array([0, 3, 7])
    dense = BundleNext(served).score_rows(rows)
    assert dense.shape == (3, len(served))
    for i, row in enumerate(rows):
        top = served.candidates("next", np.array([row]), 10, set())
        np.testing.assert_allclose(dense[i, top.rows], top.scores, rtol=1e-5, atol=1e-5)
    # several seeds (continuation): the session formula, not the sum of single-seed rows
    session = served.candidates("next", rows, 10, set())
    joint = BundleNext(served).score_seeds(rows)
    np.testing.assert_allclose(joint[session.rows], session.scores, rtol=1e-5, atol=1e-5)
    assert not np.allclose(joint, dense.sum(axis=0))


def test_nightly_job_and_prune_on_both_databases(sample_engine, store, quick_settings):
    from recsys.index.registry import prune, rollback_target

    first = run_nightly(sample_engine, store, quick_settings, holdout_frac=0.2, backend="exact")
    second = run_nightly(sample_engine, store, quick_settings, holdout_frac=0.2,
                         backend="exact", keep=1)
    assert first.promoted and second.promoted and second.pruned == []  # first: rollback target
    assert rollback_target(sample_engine, store) == first.version
    assert prune(sample_engine, store, 1) == [] and len(store.versions()) == 2
