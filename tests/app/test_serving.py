"""gunicorn settings and start-up checks of ``serve`` (the live server test runs it for real)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from recsys.serving import clear_stale_pidfile, gunicorn_options


def test_pidfile_is_per_port_under_var_run(tmp_path):
    options = gunicorn_options("127.0.0.1", 8123, 2, 4, tmp_path)
    assert options["pidfile"] == str(tmp_path / "run" / "serve-8123.pid")
    assert (tmp_path / "run").is_dir() and (tmp_path / "logs").is_dir()


def test_stale_pidfiles_are_removed_live_servers_kept(tmp_path):
    pidfile = tmp_path / "serve-8000.pid"
    assert not clear_stale_pidfile(pidfile)  # none there
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidfile.write_text(f"{dead.pid}\n")
    assert clear_stale_pidfile(pidfile) and not pidfile.exists()  # the master was killed
    pidfile.write_text("garbage")
    assert clear_stale_pidfile(pidfile) and not pidfile.exists()
    procs = {name: subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", name])
             for name in ("other-program", "recsys")}
    try:
        for name, proc in procs.items():  # until each child has exec'd (its own command line)
            deadline = time.monotonic() + 10
            while name.encode() not in Path(f"/proc/{proc.pid}/cmdline").read_bytes():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        pidfile.write_text(str(procs["other-program"].pid))  # the pid was reused
        assert clear_stale_pidfile(pidfile) and not pidfile.exists()
        pidfile.write_text(str(procs["recsys"].pid))  # a running server: gunicorn refuses
        assert not clear_stale_pidfile(pidfile) and pidfile.exists()
    finally:
        for proc in procs.values():
            proc.kill()
            proc.wait()


def _serve_without_gunicorn(monkeypatch, tmp_path, fake_run):
    """``serving.serve`` on a migrated SQLite database with gunicorn replaced by ``fake_run``."""
    from recsys import serving
    from recsys.db import migrate

    for name in ("SECRET_KEY", "RECSYS_ENV", "RECSYS_DB_REQUEST_SLOTS"):
        monkeypatch.setenv(name, "x")  # recorded, so what serve() sets is undone afterwards
        monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'recsys.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RECSYS_VAR_DIR", str(tmp_path / "var"))
    migrate.upgrade(url)
    monkeypatch.setattr(serving, "run_gunicorn", fake_run)
    monkeypatch.setattr(serving, "prepare_metrics_dir", lambda var_dir: None)
    serving.serve("127.0.0.1", 8765, 2, 2)


def test_development_workers_share_one_session_key(monkeypatch, tmp_path):
    """Without SECRET_KEY each worker used to draw its own key: a login cookie signed by one
    worker was refused by the other ("The login form had expired") most of the time."""
    import os

    from recsys import create_app

    seen = {}

    def fake_run(options):
        seen["key"] = os.environ.get("SECRET_KEY")
        seen["workers"] = [create_app().secret_key for _ in range(2)]  # as each worker would

    _serve_without_gunicorn(monkeypatch, tmp_path, fake_run)
    assert seen["key"] and len(seen["key"]) >= 32
    assert seen["workers"] == [seen["key"], seen["key"]]


def test_a_server_that_cannot_start_leaves_no_pid_file(monkeypatch, tmp_path):
    import os

    import pytest

    def fake_run(options):  # as gunicorn does when the port is taken: pid file, then exit 1
        Path(options["pidfile"]).write_text(f"{os.getpid()}\n")
        raise SystemExit(1)

    with pytest.raises(SystemExit):
        _serve_without_gunicorn(monkeypatch, tmp_path, fake_run)
    assert not (tmp_path / "var" / "run" / "serve-8765.pid").exists()


def test_the_master_imports_the_app_code_before_forking_workers(tmp_path):
    """A worker restarted later forks with the code its siblings run: found by
    bench/swap_under_load.py, where a worker killed while the files on disk were being changed
    could not build its app, and gunicorn then halted the whole server."""
    import json
    import os

    from recsys.db import migrate

    url = f"sqlite:///{tmp_path / 'recsys.db'}"
    migrate.upgrade(url)
    script = """
import json, os, sys
from recsys import serving
def fake_run(options):
    print(json.dumps({"modules": sorted(sys.modules),
                      "tasks": len(os.listdir("/proc/self/task")),
                      "blas": os.environ.get("OPENBLAS_NUM_THREADS")}))
serving.run_gunicorn = fake_run
serving.prepare_metrics_dir = lambda var_dir: None
serving.serve("127.0.0.1", 8766, 2, 2)
"""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECSYS_", "OPENBLAS", "OMP_", "MKL_")) and k != "SECRET_KEY"}
    env.update(DATABASE_URL=url, RECSYS_VAR_DIR=str(tmp_path / "var"))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    for module in ("recsys.api.routes", "recsys.admin", "recsys.recommend.holder", "numpy",
                   "annoy", "recsys.index.exact", "recsys.index.hnsw_index"):  # any bundle's
        assert module in seen["modules"]
    assert seen["blas"] == "1" and seen["tasks"] == 1  # no BLAS threads before the fork


def test_a_worker_that_failed_to_boot_exits_quietly():
    from types import SimpleNamespace

    from recsys import serving

    serving._worker_exit(None, SimpleNamespace(pid=1))  # no app: it raised AttributeError
