"""What an operator's cron wrapper relies on: exit statuses, the shared lock, recovery from
killed runs and broken bundles, one-line errors instead of tracebacks."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from recsys.db.models import TrainingRun
from recsys.db.session import make_engine, session_scope
from recsys.index.store import ModelStore
from recsys.jobs.gate import gate
from recsys.jobs.nightly import job_lock, run_nightly
from recsys.jobs.training import fail_interrupted_runs
from tests.jobs.test_cli import QUICK

REPO = Path(__file__).resolve().parents[2]
WORSE = ["--set", "vector_size=2", "--set", "epochs=1", "--set", "window=1",
         "--set", "next_transition_weight=0", "--set", "next_cooc_weight=0"]


def test_retrain_exit_status_says_what_the_gate_did(loaded, runner):
    first = runner.invoke(args=["retrain", *QUICK, "--backend", "exact"])
    assert first.exit_code == 0 and ": promoted (" in first.output
    promoted = re.search(r"model (\S+): promoted", first.output).group(1)
    worse = runner.invoke(args=["retrain", *QUICK, *WORSE, "--backend", "exact"])
    assert worse.exit_code == 3, worse.output
    assert "not promoted: the gate kept production" in worse.output
    assert re.search(r"next-song HR@10 [\d.]+ vs [\d.]+ \(worse, diff -[\d.]+ ± [\d.]+ SE\)",
                     worse.output), worse.output  # how far below, and how noisy that is
    assert runner.invoke(args=["retrain", "--noise-z", "-1"]).exit_code == 2
    dry = runner.invoke(args=["retrain", *QUICK, "--backend", "exact", "--dry-run",
                              "--tolerance", "1"])
    assert dry.exit_code == 0 and "gate passed, not promoted (--dry-run)" in dry.output
    store = ModelStore(loaded.config["MODEL_DIR"])
    assert store.current_version() == promoted
    listed = runner.invoke(args=["models"]).output  # the gate's two metrics per version
    assert listed.count("next.hr@10=") == 3 and listed.count("similar.tag_coherence=") == 3
    # --keep 1: only the newest bundle and the current one are left
    kept = runner.invoke(args=["retrain", *QUICK, "--backend", "exact", "--dry-run", "--keep", "1"])
    assert kept.exit_code in (0, 3) and "deleted 2 old bundle(s)" in kept.output
    assert len(store.versions()) == 2 and promoted in store.versions()


def test_train_waits_for_no_one_while_the_nightly_job_runs(loaded, runner):
    store = ModelStore(loaded.config["MODEL_DIR"])
    store.root.mkdir(parents=True, exist_ok=True)
    with job_lock(store.root / "retrain.lock"):  # the nightly job's clean-up would race it
        result = runner.invoke(args=["train", *QUICK, "--backend", "exact"])
    assert result.exit_code == 1 and "another job holds" in result.output
    assert store.versions() == []


def test_train_removes_what_a_killed_run_left_and_leaves_nothing(loaded, runner):
    store = ModelStore(loaded.config["MODEL_DIR"])
    store.versions_dir.mkdir(parents=True)
    (store.versions_dir / ".tmp-corpus-killed").mkdir()  # a kill -9 during training
    (store.versions_dir / ".tmp-corpus-killed" / "corpus.txt").write_text("1 2 3\n")
    result = runner.invoke(args=["train", *QUICK, "--backend", "exact"])
    assert result.exit_code == 0, result.output
    assert [p.name for p in store.versions_dir.iterdir()] == store.versions()


def test_runs_left_running_by_a_killed_process_are_marked_failed(small_db, store,
                                                                 quick_settings):
    with session_scope(small_db) as session:  # what a kill -9 mid-run leaves behind
        session.add(TrainingRun(status="running", settings={}, data_snapshot={}, metrics={}))
    (store.versions_dir / ".tmp-v-killed").mkdir(parents=True)
    report = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert not (store.versions_dir / ".tmp-v-killed").exists()
    assert fail_interrupted_runs(small_db) == 0  # the nightly run already did it
    with session_scope(small_db) as session:
        statuses = [r.status for r in session.scalars(select(TrainingRun).order_by(TrainingRun.id))]
        error = session.scalars(select(TrainingRun.error)).first()
        killed = session.scalars(select(TrainingRun).order_by(TrainingRun.id)).first()
        assert killed.finished_at is None  # when it died is unknown; the error says when found
    assert statuses == ["failed", "succeeded"] and "interrupted" in error
    assert "found by the next job at " in error
    assert report.promoted


def test_a_production_bundle_that_cannot_load_is_replaced(small_db, store, quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    (store.path(first.version) / "song_ids.npy").unlink()  # servers cannot load it either
    second = run_nightly(small_db, store, quick_settings.replace(seed=9), holdout_frac=0.2,
                         backend="exact")
    assert second.promoted and "cannot be loaded" in second.reason
    assert store.current_version() == second.version
    assert gate(small_db, store, second.version, holdout_frac=0.2).promote  # healthy again


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(REPO)}
    return subprocess.run([sys.executable, "-m", "recsys", *args], cwd=REPO, env={**base, **env},
                          capture_output=True, text=True, check=False, timeout=120)


def test_operator_errors_are_one_line_not_tracebacks(tmp_path):
    var = str(tmp_path / "var")
    cases = [
        (("models",), {"RECSYS_ENV": "production"}, "missing required environment variables"),
        (("db", "downgrade", "nonsense"), {}, "Error: "),
        (("train",), {}, "run `python -m recsys db upgrade` first"),  # no tables yet
        # a bare postgresql:// URL works for db commands too; an unreachable server says so
        (("db", "current"), {"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"},
         "(is DATABASE_URL right, and the database server up?)"),
        (("db", "upgrade"), {"DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"},
         "(is DATABASE_URL right, and the database server up?)"),
    ]
    for args, env, expected in cases:
        out = _cli(*args, RECSYS_VAR_DIR=var, **env)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert expected in out.stderr and "Traceback" not in out.stderr, (args, out.stderr)
    bad = tmp_path / "bad.yaml"
    bad.write_text("window: 3\nnegative: [5\n")
    out = _cli("train", "--config", str(bad), RECSYS_VAR_DIR=var)
    assert out.returncode == 1 and f"{bad}:3: invalid YAML" in out.stderr, out.stderr


def test_serve_refuses_a_database_that_is_not_migrated(tmp_path):
    var = str(tmp_path / "var")
    for args in (("serve", "--port", "9"), ("serve", "--dev", "--port", "9")):
        out = _cli(*args, RECSYS_VAR_DIR=var)
        assert out.returncode == 1, (args, out.stderr)
        assert "schema is at revision none (empty database)" in out.stderr
        assert "run `python -m recsys db upgrade` first" in out.stderr
    assert _cli("db", "upgrade", RECSYS_VAR_DIR=var).returncode == 0
    out = _cli("db", "downgrade", "-1", RECSYS_VAR_DIR=var)
    assert out.returncode == 0, out.stderr
    out = _cli("serve", "--port", "9", RECSYS_VAR_DIR=var)
    assert out.returncode == 1 and "but this code needs" in out.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "var" / "recsys.db") as conn:  # newer code migrated it
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    out = _cli("serve", "--port", "9", RECSYS_VAR_DIR=var)
    assert out.returncode == 1 and "newer than this code knows" in out.stderr, out.stderr


def test_db_downgrade_takes_a_relative_revision(tmp_path):
    var = str(tmp_path / "var")
    assert "no schema yet" in _cli("db", "current", RECSYS_VAR_DIR=var).stdout
    from alembic.script import ScriptDirectory

    from recsys.db import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    head = script.get_current_head()
    previous = script.get_revision(head).down_revision
    out = _cli("db", "upgrade", RECSYS_VAR_DIR=var)
    assert out.returncode == 0 and f"database at revision {head} (was empty)" in out.stdout
    out = _cli("db", "downgrade", "-1", RECSYS_VAR_DIR=var)
    assert out.returncode == 0 and f"revision {previous} (was {head})" in out.stdout
    engine = make_engine(f"sqlite:///{var}/recsys.db")
    with engine.connect() as conn:
        (revision,) = conn.exec_driver_sql("select version_num from alembic_version").one()
    engine.dispose()
    assert revision == previous
    out = _cli("db", "downgrade", " ", RECSYS_VAR_DIR=var)  # was an AssertionError traceback
    assert out.returncode == 2 and "give a revision" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_the_gate_never_scores_production_on_playlists_it_trained_on(small_db, store,
                                                                     quick_settings):
    from recsys.index.registry import promote
    from recsys.jobs import data
    from recsys.jobs.training import train_and_bundle

    everything = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.0,
                                  backend="exact")  # e.g. `train --holdout 0 --promote`
    promote(small_db, store, everything.version)
    report = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert not report.promoted and "promote by hand" in report.reason
    # production kept out 10%: the gate compares on that tenth only (holdouts are nested)
    tenth = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.1,
                             backend="exact")
    promote(small_db, store, tenth.version)
    candidate = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                                 backend="exact")
    decision = gate(small_db, store, candidate.version, holdout_frac=0.2)
    n_tenth = len(data.load_playlists(small_db, part="holdout", holdout_frac=0.1))
    assert decision.candidate["holdout_playlists"] == n_tenth
    assert decision.production["holdout_playlists"] == n_tenth


def test_no_model_of_the_pipeline_learns_from_the_holdout(small_db, store, quick_settings,
                                                          tmp_path):
    from recsys.ingest import import_csv
    from recsys.jobs.data import is_holdout
    from recsys.jobs.training import train_and_bundle

    held = next(f"held-{i}" for i in range(1000) if is_holdout("probe", f"held-{i}", 0.2))
    kept = next(f"kept-{i}" for i in range(1000) if not is_holdout("probe", f"kept-{i}", 0.2))
    csv = tmp_path / "probe.csv"
    rows = [f"{pid},{pos},{pid}-song-{pos},T,A" for pid in (held, kept) for pos in range(6)]
    csv.write_text("playlist_id,position,song_id,title,artist\n" + "\n".join(rows) + "\n")
    import_csv(small_db, csv, "probe", progress=False)
    outcome = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                               backend="exact")
    with small_db.connect() as conn:
        ids = dict(conn.exec_driver_sql(
            "select external_id, id from songs where source = 'probe'").all())
    learned = set(store.open(outcome.version).array("song_ids").tolist())
    assert {ids[f"{kept}-song-{p}"] for p in range(6)} <= learned  # the probe works
    assert not {ids[f"{held}-song-{p}"] for p in range(6)} & learned


def test_jobs_refuse_an_old_schema_before_any_work(tmp_path):
    var = str(tmp_path / "var")
    assert _cli("db", "upgrade", RECSYS_VAR_DIR=var).returncode == 0
    assert _cli("db", "downgrade", "0005", RECSYS_VAR_DIR=var).returncode == 0
    for args in (("retrain", "--dry-run"), ("train",), ("songs", "hidden"), ("songs", "hide", "1"),
                 ("import", "csv", "x.csv"), ("models",), ("evaluate",)):
        out = _cli(*args, RECSYS_VAR_DIR=var)
        assert out.returncode == 1, (args, out.stderr)
        assert "schema is at revision 0005 but this code needs" in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    engine = make_engine(f"sqlite:///{var}/recsys.db")
    with session_scope(engine) as session:  # nothing started: no training run recorded
        assert session.scalars(select(TrainingRun)).all() == []
    engine.dispose()
