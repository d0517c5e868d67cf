"""Chaos review: a full disk or an unwritable model store under retrain and train."""

from __future__ import annotations

import errno
import subprocess
import sys
from collections import namedtuple

from sqlalchemy import select

from recsys.db.models import TrainingRun
from recsys.db.session import make_engine, session_scope
from recsys.index.bundle import BundleWriter
from recsys.index.store import ModelStore
from recsys.jobs import training
from recsys.jobs.training import describe_failure
from tests.conftest import REPO

QUICK = ["--set", "epochs=5", "--set", "vector_size=16", "--set", "workers=1",
         "--backend", "exact"]
Usage = namedtuple("Usage", "total used free")


def _runs(app):
    engine = make_engine(app.config["DATABASE_URL"])
    try:
        with session_scope(engine) as session:
            return [(r.status, r.error) for r in
                    session.scalars(select(TrainingRun).order_by(TrainingRun.id))]
    finally:
        engine.dispose()


def test_only_a_full_disk_is_blamed_on_space(tmp_path, monkeypatch):
    monkeypatch.setattr(training.shutil, "disk_usage", lambda _p: Usage(10**9, 10**9, 600_000))
    full = OSError(errno.ENOSPC, "No space left on device")
    assert describe_failure(full, tmp_path).endswith(f"(disk full? 585 KiB free under {tmp_path})")
    # on a small disk, a read-only store or a permission was put down to space as well
    read_only = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "retrain.lock"))
    assert describe_failure(read_only, tmp_path) == (
        f"OSError: [Errno 30] Read-only file system: '{tmp_path / 'retrain.lock'}'")
    denied = PermissionError(errno.EACCES, "Permission denied")
    assert "disk full" not in describe_failure(denied, tmp_path)


def test_retrain_on_a_full_disk_is_one_line_and_production_keeps_serving(loaded, runner,
                                                                         monkeypatch):
    first = runner.invoke(args=["retrain", *QUICK])
    assert first.exit_code == 0, first.output
    store = ModelStore(loaded.config["MODEL_DIR"])
    serving = store.current_version()

    def no_space(self, name, array):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(BundleWriter, "add_array", no_space)
    for command in ("retrain", "train"):
        result = runner.invoke(args=[command, *QUICK])
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)  # not a traceback
        assert "Error: OSError: [Errno 28] No space left on device (disk full? " in result.output
        assert store.current_version() == serving and store.versions() == [serving]
        assert not [p for p in store.versions_dir.iterdir() if p.name.startswith(".")]
        status, error = _runs(loaded)[-1]
        assert status == "failed" and "No space left on device" in error


def test_retrain_with_an_unusable_model_store_is_one_line(loaded, runner, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    loaded.config["MODEL_DIR"] = str(blocker / "models")
    for command in ("retrain", "train"):
        result = runner.invoke(args=[command, *QUICK])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "Error: NotADirectoryError: [Errno 20] Not a directory" in result.output
        assert "disk full" not in result.output


def test_promote_rollback_and_prune_with_an_unusable_store_are_one_line(loaded, runner,
                                                                         tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    loaded.config["MODEL_DIR"] = str(blocker / "models")
    for args in (["promote", "v1"], ["rollback"], ["models", "prune", "--keep", "1"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert "Error: model store: [Errno 20] Not a directory" in result.output


LOG_LINES = """
import logging, sys
from recsys.logging_setup import configure_logging
configure_logging("INFO", sys.argv[1])
for i in range(50):
    logging.getLogger("recsys.test").info("line %d", i)
print("done")
"""


def _log_50_lines(log_dir):
    return subprocess.run([sys.executable, "-c", LOG_LINES, str(log_dir)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_a_full_log_disk_is_said_once_and_the_job_goes_on(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "recsys.log").symlink_to("/dev/full")  # every write: ENOSPC
    proc = _log_50_lines(logs)
    assert proc.returncode == 0 and proc.stdout == "done\n"
    assert "--- Logging error ---" not in proc.stderr  # was a traceback for each of the 50
    assert proc.stderr.count("cannot write the log file") == 1
    assert "No space left on device" in proc.stderr and "line 49" in proc.stderr


def test_a_read_only_log_directory_stops_no_command(tmp_path):
    blocker = tmp_path / "read-only"
    blocker.write_text("x")  # the logs directory cannot be made under it
    proc = _log_50_lines(blocker / "logs")
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr  # was a traceback
    assert "cannot open the log file" in proc.stderr and "line 49" in proc.stderr


LOG_DIR_GONE = """
import logging, shutil, sys
from pathlib import Path
from recsys.logging_setup import configure_logging
configure_logging("INFO", sys.argv[1])
log = logging.getLogger("recsys.test")
log.info("before")
shutil.rmtree(sys.argv[1])  # rotated away, then its directory removed
for i in range(50):
    log.info("line %d", i)
Path(sys.argv[1]).mkdir()
log.info("back")
print("done")
"""


def test_a_log_directory_removed_under_a_running_process_stops_nothing(tmp_path):
    logs = tmp_path / "logs"
    proc = subprocess.run([sys.executable, "-c", LOG_DIR_GONE, str(logs)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    # was a FileNotFoundError out of every log call (WatchedFileHandler's reopen)
    assert proc.returncode == 0 and proc.stdout == "done\n", proc.stderr
    assert proc.stderr.count("cannot write the log file") == 1
    assert "line 49" in proc.stderr
    assert "back" in (logs / "recsys.log").read_text()  # the file again once it can be
