"""Chaos review: what a second job, a concurrent prune or an unreadable bundle does to a run."""

from __future__ import annotations

import threading

import pytest

from recsys.db.models import TrainingRun
from recsys.db.session import session_scope
from recsys.index.registry import prune
from recsys.jobs.nightly import JobLockedError, job_lock, run_nightly
from recsys.jobs.recovery import recover


def _gate(engine, run_id):
    with session_scope(engine) as session:
        return session.get(TrainingRun, run_id).metrics["gate"]


def test_a_run_refused_by_the_lock_leaves_the_running_gate_alone(small_db, store,
                                                                 quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    with session_scope(small_db) as session:  # the job holding the lock is in its gate
        run = session.get(TrainingRun, first.run_id)
        run.metrics = {**run.metrics, "gate": {"verdict": "gating", "reason": "comparing"}}
    with job_lock(store.root / "retrain.lock"), pytest.raises(JobLockedError):
        run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    assert _gate(small_db, first.run_id)["verdict"] == "gating"  # not "interrupted"


def test_an_unreadable_bundle_does_not_block_every_later_run(small_db, store, quick_settings):
    first = run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    stray = store.versions_dir / "copied-by-hand"
    stray.mkdir()
    (stray / "manifest.json").write_text("{")  # truncated: a copy or a disk fault
    recover(small_db, store)  # raised BundleError: every retrain and train failed from then on
    second = run_nightly(small_db, store, quick_settings.replace(seed=8), holdout_frac=0.2,
                         backend="exact", tolerance=1.0)
    assert second.promoted and store.current_version() == second.version != first.version
    assert stray.is_dir()  # of unknown origin: left for the operator, not deleted


def test_prune_waits_for_a_backup_or_switch_holding_the_store(small_db, store,
                                                              quick_settings):
    versions = [run_nightly(small_db, store, quick_settings.replace(seed=s), holdout_frac=0.2,
                            backend="exact", tolerance=1.0).version for s in (1, 2, 3)]
    assert store.versions() == versions
    done = threading.Event()
    removed: list[str] = []

    def pruner():
        removed.extend(prune(small_db, store, keep=1))
        done.set()

    with store.switch_lock():  # what a backup holds while it copies the bundles
        thread = threading.Thread(target=pruner)
        thread.start()
        assert not done.wait(1.0)  # it deleted bundles under the backup's copy
        assert store.versions() == versions
    thread.join(10)
    assert removed == versions[:1]  # the current version and the rollback target stay
    assert store.versions() == versions[1:]


def test_a_refused_job_names_the_one_holding_the_lock(small_db, store, quick_settings,
                                                      tmp_path, monkeypatch):
    from recsys.jobs import backup as module

    store.root.mkdir(parents=True)
    lock = store.root / "retrain.lock"
    lock.write_text("retrain, pid 1, since yesterday (a killed run's line)\n")
    refusals: list[str] = []
    real_copy = module._copy_models

    def copy_while_the_nightly_job_starts(*args):
        with pytest.raises(JobLockedError) as refused:
            run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
        refusals.append(str(refused.value))
        return real_copy(*args)

    monkeypatch.setattr(module, "_copy_models", copy_while_the_nightly_job_starts)
    module.backup(small_db, store, tmp_path / "backup")
    # it said "another retraining run holds ...": the operator looked for a retrain
    assert refusals and refusals[0].startswith(f"another job holds {lock} (backup, pid ")
    assert "killed run" not in refusals[0]
    with job_lock(lock, holder="train"):
        assert lock.read_text().startswith("train, pid ")


def test_prune_keeps_the_rollback_target_of_a_switch_killed_before_its_row(
        small_db, store, quick_settings):
    from recsys.index.registry import rollback

    a, b, c = [run_nightly(small_db, store, quick_settings.replace(seed=s), holdout_frac=0.2,
                           backend="exact", tolerance=1.0).version for s in (1, 2, 3)]
    store.set_current(b)  # `rollback` from c killed between the link and its history row
    assert prune(small_db, store, keep=1) == []  # it deleted a, the next rollback's target
    assert rollback(small_db, store) == a and store.current_version() == a


def test_prune_of_a_missing_store_creates_nothing(small_db, tmp_path):
    from recsys.index.store import ModelStore

    store = ModelStore(tmp_path / "moved-away")  # a wrong RECSYS_MODEL_DIR, a store moved
    assert prune(small_db, store, keep=1) == []
    assert not store.root.exists()  # was made (with its switch.lock) by the switch lock


def test_a_lock_file_that_cannot_be_written_still_locks(tmp_path):
    lock = tmp_path / "retrain.lock"
    lock.symlink_to("/dev/full")  # every write fails (ENOSPC), as on a full disk
    with job_lock(lock, holder="backup"):  # raised OSError: the backup could not start
        second = job_lock(lock, holder="retrain")
        with pytest.raises(JobLockedError):
            second.__enter__()
