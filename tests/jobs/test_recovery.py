"""What a job killed at the worst moment leaves, and how the next one puts it right."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from recsys.db.models import ModelEvent, ModelVersion, TrainingRun
from recsys.db.session import make_engine, session_scope
from recsys.index.registry import ProductionChangedError, promote, rollback, rollback_target
from recsys.jobs import nightly, training
from recsys.jobs.nightly import run_nightly
from recsys.jobs.recovery import recover
from tests.conftest import REPO


def _two_promoted(small_db, store, quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    second = run_nightly(small_db, store, quick_settings.replace(seed=9), holdout_frac=0.2,
                         backend="exact", tolerance=1.0)
    assert first.promoted and second.promoted
    return first.version, second.version


def _events(engine):
    with session_scope(engine) as session:
        return [(e.action, e.version, e.actor) for e in
                session.scalars(select(ModelEvent).order_by(ModelEvent.id))]


def test_a_switch_killed_before_its_history_row_is_recorded_next_time(small_db, store,
                                                                      quick_settings):
    a, b = _two_promoted(small_db, store, quick_settings)
    store.set_current(a)  # a rollback killed between the link and its row
    assert rollback_target(small_db, store) is None  # the history disagrees with the link
    recover(small_db, store)
    assert _events(small_db)[-1] == ("rollback", a, "recovered")
    assert rollback_target(small_db, store) is None  # b was rolled back from: not a target
    promote(small_db, store, b, actor="cli")
    store.set_current(a)  # now a promotion of a killed the same way...
    promote(small_db, store, b, actor="cli")  # ...and the next switch records it first
    assert [e[0:2] for e in _events(small_db)[-2:]] == [("rollback", a), ("promote", b)]
    assert rollback(small_db, store) == a


def test_an_operator_switch_during_the_gate_wins(small_db, store, quick_settings, monkeypatch):
    a, b = _two_promoted(small_db, store, quick_settings)
    real_gate = nightly.gate

    def gate_then_operator_rolls_back(*args, **kwargs):
        decision = real_gate(*args, **kwargs)
        rollback(small_db, store, actor="operator")  # while the job compares models
        return decision

    monkeypatch.setattr(nightly, "gate", gate_then_operator_rolls_back)
    report = run_nightly(small_db, store, quick_settings.replace(seed=4), holdout_frac=0.2,
                         backend="exact", tolerance=1.0)
    assert not report.promoted and not report.gate_passed
    assert f"changed from {b} to {a}" in report.reason
    assert store.current_version() == a  # the operator's choice stands
    with session_scope(small_db) as session:
        gate = session.get(TrainingRun, report.run_id).metrics["gate"]
    assert gate["verdict"] == "kept production" and "changed from" in gate["reason"]
    with pytest.raises(ProductionChangedError):
        promote(small_db, store, report.version, expect_current=b)


def test_gates_left_open_and_unregistered_bundles_are_settled(small_db, store, quick_settings,
                                                              monkeypatch):
    a, b = _two_promoted(small_db, store, quick_settings)
    with session_scope(small_db) as session:
        runs = {r.model_version: r for r in session.scalars(select(TrainingRun))}
        runs[b].metrics = {**runs[b].metrics, "gate": {"verdict": "promoting", "reason": "x"}}
        runs[a].metrics = {**runs[a].metrics, "gate": {"verdict": "gating", "reason": "y"}}

    def killed(*_args, **_kwargs):  # Ctrl-C right after the bundle was renamed into place
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "register", killed)
    with pytest.raises(KeyboardInterrupt):
        training.train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2,
                                  backend="exact")
    orphan = [v for v in store.versions() if v not in (a, b)]
    assert len(orphan) == 1  # complete, but never registered nor gated
    monkeypatch.undo()
    recover(small_db, store)
    assert set(store.versions()) == {a, b}  # names made in one second sort by their suffix
    with session_scope(small_db) as session:
        gates = {r.model_version: r.metrics.get("gate", {}) for r in
                 session.scalars(select(TrainingRun))}
        assert set(session.scalars(select(ModelVersion.version))) == {a, b}
    assert gates[b]["verdict"] == "promoted"  # it is live: the promotion went through
    assert gates[a]["verdict"] == "interrupted" and "while gating" in gates[a]["reason"]


def test_a_stray_current_link_is_removed_once_old(store, tmp_path):
    store.root.mkdir(parents=True)
    stray = store.root / ".current-killed"
    os.symlink("versions/x", stray)
    assert store.clean_temporary() == 0  # young: a promotion may be making it right now
    past = time.time() - 120
    os.utime(stray, (past, past), follow_symlinks=False)
    assert store.clean_temporary() == 1 and not os.path.lexists(stray)


@pytest.mark.slow
def test_sigterm_cleans_up_like_ctrl_c(tmp_path):
    var = tmp_path / "var"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RECSYS_VAR_DIR": str(var)}
    run = [sys.executable, "-m", "recsys"]
    for args in (["db", "upgrade"], ["sample", "--playlists", "3000", "--no-progress"]):
        subprocess.run(run + args, cwd=REPO, env=env, check=True, capture_output=True)
    proc = subprocess.Popen(run + ["retrain", "--set", "epochs=200", "--set", "workers=1"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    log = var / "logs" / "recsys.log"
    deadline = time.time() + 120
    while "word2vec epoch 1/200" not in (log.read_text() if log.exists() else ""):
        assert time.time() < deadline and proc.poll() is None
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, out
    assert "stopped by SIGTERM" in out and "production serves None" in out
    engine = make_engine(f"sqlite:///{var}/recsys.db")
    with session_scope(engine) as session:
        run_row = session.scalars(select(TrainingRun)).one()
        assert run_row.status == "failed" and "SIGTERM" in run_row.error  # not left running
    engine.dispose()
    versions = var / "models" / "versions"
    assert not versions.exists() or list(versions.iterdir()) == []  # temporary files removed
    assert "nightly run failed" in log.read_text()


def test_a_failed_write_on_a_full_disk_says_so(tmp_path, monkeypatch):
    from collections import namedtuple

    from recsys.jobs.training import describe_failure

    usage = namedtuple("usage", "total used free")
    error = OSError("206418 requested and 149472 written")
    monkeypatch.setattr(training.shutil, "disk_usage", lambda _p: usage(10**9, 10**9, 2**20))
    assert describe_failure(error, tmp_path) == (
        f"OSError: 206418 requested and 149472 written (disk full? 1 MiB free under {tmp_path})")
    assert describe_failure(ValueError("bad"), tmp_path) == "ValueError: bad"
    monkeypatch.setattr(training.shutil, "disk_usage", lambda _p: usage(10**12, 0, 10**12))
    assert describe_failure(error, tmp_path).endswith("written")  # plenty of space: not that


def test_a_job_stopped_in_the_gate_settles_it_on_its_way_out(small_db, store, quick_settings,
                                                              monkeypatch):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")

    def stopped(*_args, **_kwargs):  # SIGTERM while both models are scored
        raise KeyboardInterrupt

    monkeypatch.setattr(nightly, "gate", stopped)
    with pytest.raises(KeyboardInterrupt):
        run_nightly(small_db, store, quick_settings.replace(seed=3), holdout_frac=0.2,
                    backend="exact")
    with session_scope(small_db) as session:
        last = session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())).first()
        assert last.metrics["gate"]["verdict"] == "interrupted"  # not "gating" until next run
    assert store.current_version() == first.version
