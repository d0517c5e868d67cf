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
