"""Chaos review of ``backup``: killed mid-way, and a destination that runs out of space."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys

import pytest

from recsys.jobs import backup as module
from recsys.jobs.backup import BackupError, backup
from recsys.jobs.nightly import run_nightly
from tests.conftest import REPO

KILLED_IN_THE_COPY = """
import os, signal, sys
from recsys.db.session import make_engine
from recsys.index.store import ModelStore
from recsys.jobs import backup as module

def killed(*_args):  # kill -9 once the database is dumped, while the bundles are copied
    os.kill(os.getpid(), signal.SIGKILL)

module._copy_models = killed
module.backup(make_engine(sys.argv[1]), ModelStore(sys.argv[2]), sys.argv[3])
"""


def test_a_killed_backup_never_looks_like_a_backup(small_db, store, quick_settings, tmp_path):
    run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    dest = tmp_path / "today"
    url = small_db.url.render_as_string(hide_password=False)
    proc = subprocess.run([sys.executable, "-c", KILLED_IN_THE_COPY, url, str(store.root),
                           str(dest)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    # a dump beside no models was left as DEST/recsys.db: restorable-looking, incomplete
    assert [p.name for p in dest.iterdir()] == [".incomplete"]
    with pytest.raises(BackupError, match="holds an incomplete backup"):
        backup(small_db, store, dest)
    shutil.rmtree(dest / ".incomplete")
    report = backup(small_db, store, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["backup.json", "models", "recsys.db"]
    assert report.current_model == store.current_version()


def test_a_full_disk_is_one_clear_error_and_leaves_nothing(small_db, store, quick_settings,
                                                           tmp_path, monkeypatch):
    run_nightly(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    real_copytree = shutil.copytree

    def out_of_space(src, dst, **kwargs):  # copytree reports every file it could not copy
        real_copytree(src, dst, **kwargs)
        files = sorted(p for p in dst.iterdir())
        raise shutil.Error([(str(src / f.name), str(f), f"[Errno {errno.ENOSPC}] No space "
                             f"left on device: '{f}'") for f in files])

    monkeypatch.setattr(module.shutil, "copytree", out_of_space)
    dest = tmp_path / "today"
    with pytest.raises(BackupError) as caught:  # a shutil.Error traceback listing every file
        backup(small_db, store, dest)
    message = str(caught.value)
    assert message.startswith(f"backup into {dest} failed: ") and "file(s) not copied" in message
    assert "No space left on device" in message and "MiB free" in message
    assert message.count("No space left") == 1 and len(message) < 600
    assert not dest.exists()
