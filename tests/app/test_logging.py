"""The log file is shared by every process and rotated from outside (logrotate)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from tests.conftest import REPO

SCRIPT = """
import logging, sys
from recsys.logging_setup import configure_logging
configure_logging("INFO", sys.argv[1])
log = logging.getLogger("recsys.test")
for i in range(200):
    log.info("line %d", i)
"""


def test_processes_append_to_one_file_and_a_moved_file_is_reopened(tmp_path):
    logs = tmp_path / "logs"
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT, str(logs)], cwd=REPO,
                              stderr=subprocess.DEVNULL) for _ in range(3)]
    assert all(p.wait(60) == 0 for p in procs)
    lines = (logs / "recsys.log").read_text().splitlines()
    assert len(lines) == 600  # nothing lost, no rotation inside
    assert len({line.split("[")[1].split("]")[0] for line in lines}) == 3  # pids tell them apart

    from recsys.logging_setup import configure_logging

    logger = logging.getLogger("recsys")
    saved = list(logger.handlers), getattr(logger, "_recsys_configured", False)
    logger.handlers, logger._recsys_configured = [], False
    try:
        configure_logging("INFO", str(tmp_path / "own"))
        logger.info("before")
        os.rename(tmp_path / "own" / "recsys.log", tmp_path / "own" / "recsys.log.1")  # logrotate
        logger.info("after")
        assert "after" in (tmp_path / "own" / "recsys.log").read_text()
        assert "after" not in (tmp_path / "own" / "recsys.log.1").read_text()
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers, logger._recsys_configured = saved


def test_an_import_summary_is_said_once_on_the_terminal_and_once_in_the_file(tmp_path):
    csv = tmp_path / "p.csv"
    csv.write_text("playlist_id,position,song_id,title,artist\np1,0,s1,One,A\np1,1,s2,Two,B\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RECSYS_VAR_DIR": str(tmp_path)}

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recsys", *args], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              check=True, timeout=120).stdout  # both streams, as cron keeps them

    cli("db", "upgrade")
    both = cli("import", "csv", str(csv), "--source", "mine")
    summary = f"imported {csv} as source 'mine': 2 songs added"
    assert both.count(summary) == 1, both
    assert "reading" in both  # other log lines still reach the terminal
    assert (tmp_path / "logs" / "recsys.log").read_text().count(summary) == 1
