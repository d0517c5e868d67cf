"""The train / evaluate / tune / retrain commands through the CLI runner."""

from __future__ import annotations

import json

import pytest
import yaml

from recsys.index.store import ModelStore

QUICK = ["--set", "epochs=15", "--set", "vector_size=16", "--set", "workers=1",
         "--set", "next_transition_weight=0.5"]


def test_train_writes_and_promotes_a_bundle(loaded, runner):
    result = runner.invoke(args=["train", *QUICK, "--backend", "exact", "--promote"])
    assert result.exit_code == 0, result.output
    store = ModelStore(loaded.config["MODEL_DIR"])
    (version,) = store.versions()
    assert store.current_version() == version
    assert f"model {version}" in result.output and "hr@10=" in result.output
    assert "  cooccurrence: hr@10=" in result.output
    assert "next HR@10 / best counting baseline: " in result.output
    assert "whole run" in result.output and "not promoted" not in result.output
    again = runner.invoke(args=["train", *QUICK, "--backend", "exact", "--if-no-model"])
    assert again.exit_code == 0 and "not training" in again.output
    assert store.versions() == [version]


def test_train_without_holdout_says_so_and_how_to_promote(loaded, runner):
    result = runner.invoke(args=["train", *QUICK, "--backend", "exact", "--holdout", "0"])
    assert result.exit_code == 0, result.output
    (version,) = ModelStore(loaded.config["MODEL_DIR"]).versions()
    assert "no metrics: no held-out playlists" in result.output and "hr@10=" not in result.output
    assert f"not promoted; to serve it: python -m recsys promote {version}" in result.output


def test_train_rejects_bad_settings(loaded, runner):
    result = runner.invoke(args=["train", "--set", "window=0"])
    assert result.exit_code != 0
    assert "window must be >= 1" in result.output
    result = runner.invoke(args=["train", "--set", "nonsense=1"])
    assert result.exit_code != 0 and "unknown training setting" in result.output
    result = runner.invoke(args=["train", "--config", "/no/such.yaml"])
    assert result.exit_code != 0 and "not found" in result.output


def test_evaluate_prints_every_method_and_writes_json(loaded, runner, tmp_path):
    out = tmp_path / "eval.json"
    result = runner.invoke(args=["evaluate", *QUICK, "--seeds", "0", "--json", str(out)])
    assert result.exit_code == 0, result.output
    for method in ("popularity", "transitions", "cooccurrence", "handson_w2v_cosine",
                   "p2v_similar", "p2v_next"):
        assert f"| {method} |" in result.output
    assert "±" not in result.output  # one seed: no spread to show
    doc = json.loads(out.read_text())
    assert {r["method"] for r in doc["summary"]} >= {"p2v_next", "cooccurrence"}
    assert "next_hr_over_best_baseline" in doc["ratios"]


def test_tune_writes_results_and_winning_config(loaded, runner, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("window: [2, 5]\nnext_cooc_weight: [0.0, 0.5]\n")
    best = tmp_path / "best.yaml"
    out = tmp_path / "tune.json"
    result = runner.invoke(args=["tune", *QUICK, "--set", "window=3", "--space", str(space),
                                 "--out", str(out), "--write-config", str(best)])
    assert result.exit_code == 0, result.output
    assert "the search space sets window; --set does not apply" in result.output
    results = json.loads(out.read_text())["results"]
    assert len(results) == 4
    assert results[0]["hr@10"] >= results[-1]["hr@10"]
    written = yaml.safe_load(best.read_text())
    assert written["window"] == results[0]["window"]
    assert written["next_cooc_weight"] == results[0]["next_cooc_weight"]


def test_retrain_with_a_bad_import_records_a_failed_run(loaded, runner, tmp_path):
    """A night whose import fails leaves a failed run saying which file and line, and which
    imports were committed before it; nothing is trained and production is unchanged."""
    from sqlalchemy import func, select

    from recsys.db.models import Playlist, TrainingRun
    from recsys.db.session import session_scope
    from recsys.extensions import db

    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    header = "playlist_id,position,song_id,title,artist\n"
    good.write_text(header + "g-1,0,n1,New One,Newcomer\ng-1,1,n2,New Two,Newcomer\n")
    bad.write_text(header + "b-1,0,n1,New One,Newcomer\nb-1,one,n2,New Two,Newcomer\n")
    first = runner.invoke(args=["retrain", *QUICK, "--backend", "exact"])
    assert first.exit_code == 0, first.output
    result = runner.invoke(args=["retrain", *QUICK, "--backend", "exact",
                                 "--import", f"csv:{good}:fresh", "--import", f"csv:{bad}:fresh"])
    assert result.exit_code == 1 and "bad.csv:3:" in result.output, result.output
    with loaded.app_context(), session_scope(db.engine) as session:
        runs = session.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
        fresh = session.scalar(select(func.count()).select_from(Playlist)
                               .where(Playlist.source == "fresh"))
        last = runs[-1]
        assert len(runs) == 2 and last.status == "failed" and last.finished_at is not None
        assert last.model_version is None and last.data_snapshot["stage"] == "import"
        assert f"stopped in the import of csv:{bad}, before training" in last.error
        assert f"imports committed before it: csv:{good}" in last.error
        assert "bad.csv:3:" in last.error and "production unchanged" in last.error
    assert fresh == 1  # the good file's transaction stands; the bad one left nothing
    listed = runner.invoke(args=["models"]).output
    assert listed.count("next.hr@10=") == 1  # no bundle from the failed night


def test_retrain_imports_trains_and_promotes(loaded, runner, tmp_path, caplog):
    extra = tmp_path / "new.csv"
    extra.write_text("playlist_id,position,song_id,title,artist\n"
                     "new-1,0,n1,New One,Newcomer\nnew-1,1,n2,New Two,Newcomer\n")
    args = ["retrain", *QUICK, "--backend", "exact", "--import", f"csv:{extra}:fresh"]
    caplog.set_level("INFO", logger="recsys")
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    summary = "source 'fresh': 2 songs added (0 already present), 1 playlists added"
    assert result.output.count(summary) == 1 and caplog.text.count(summary) == 1
    assert ": promoted (" in result.output
    assert "next HR@10 / best counting baseline on the holdout: " in result.output
    result = runner.invoke(args=["retrain", *QUICK, "--import", "xml:/x"])
    assert result.exit_code == 2 and "unknown import kind" in result.output  # usage: nothing ran


def test_import_spec_paths_may_hold_colons(tmp_path):
    import click

    from recsys.cli_nightly import import_spec

    stamped = tmp_path / "playlists-2026-11-27T03:15.csv"  # a timestamped export
    stamped.write_text("playlist_id,position,song_id\n")
    spec = import_spec(f"csv:{stamped}")
    assert (spec.kind, spec.path, spec.source) == ("csv", str(stamped), None)
    spec = import_spec(f"csv:{stamped}:radio")
    assert (spec.kind, spec.path, spec.source) == ("csv", str(stamped), "radio")
    spec = import_spec("yes:/data/yes_big:yes_big")
    assert (spec.path, spec.source) == ("/data/yes_big", "yes_big")
    assert import_spec("jsonl:/in/day.jsonl").source is None
    # a "source" holding '/' is a misread path: the whole rest is the path, even when the part
    # before the last ':' exists (so the import fails naming the whole path)
    (tmp_path / "yes").mkdir()
    spec = import_spec(f"yes:{tmp_path / 'yes'}:big/dir")
    assert (spec.path, spec.source) == (f"{tmp_path / 'yes'}:big/dir", None)
    spec = import_spec("csv:/in:coming/day1.csv")
    assert (spec.path, spec.source) == ("/in:coming/day1.csv", None)
    for bad in ("csv", "csv:", ":x.csv"):
        with pytest.raises(click.BadParameter, match="KIND:PATH"):
            import_spec(bad)
