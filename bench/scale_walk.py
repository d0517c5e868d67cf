"""Scale walk: time and peak memory of every operator path on a large catalog.

Usage::

    .venv/bin/python bench/scale_catalog.py var/helper-scale/catalog.csv   # 6M rows
    .venv/bin/python bench/scale_walk.py all --csv var/helper-scale/catalog.csv \
        --work var/helper-scale/walk [--epochs 2] [--postgres]
    .venv/bin/python bench/scale_walk.py pages --work var/helper-scale/walk [--postgres]

``all``: a fresh migrated database (SQLite under ``--work``; with ``--postgres`` a throw-away
server from tests/pgserver.py), then ``import csv``, ``train --promote`` (``--epochs``) and the
``pages`` step (``--model-dir``: no training, that store's model is served), each a
``python -m recsys`` process whose wall time and peak RSS are read with
``wait4``. ``pages``: in one fresh process, the app's start and model load, then every
dashboard page and API endpoint twice (cold, warm) through Flask's test client, logged in;
each request's statements are timed through a SQLAlchemy event, and the slowest statement's
plan (EXPLAIN QUERY PLAN / EXPLAIN) is printed. ``pages`` on PostgreSQL needs ``--url`` (the
throw-away server of ``all --postgres`` stops at its end).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "scale-walk-password"


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``cmd``; returns wall seconds, peak RSS (MB) and its output's last line."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            cwd=REPO, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    took = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out[-3000:]}")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return took, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def environment(args: argparse.Namespace, url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "RECSYS_VAR_DIR": str(args.work / "var"),
           "RECSYS_ADMIN_PASSWORD": PASSWORD, "RECSYS_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(REPO)}
    if args.model_dir is not None:
        env["RECSYS_MODEL_DIR"] = str(args.model_dir.resolve())
    return env


def run_all(args: argparse.Namespace, url: str) -> None:
    env = environment(args, url)
    py = [sys.executable, "-m", "recsys"]
    rows = []
    steps = [("db upgrade", py + ["db", "upgrade"]),
             ("import csv", py + ["import", "csv", str(args.csv), "--source", "scale"])]
    if args.model_dir is None:
        steps.append((f"train --promote ({args.epochs} epochs, holdout {args.holdout:g})",
                      py + ["train", "--set", f"epochs={args.epochs}", "--holdout",
                            str(args.holdout), "--promote"]))
    for name, cmd in steps:
        took, rss, last = measured(cmd, env)
        rows.append((name, took, rss))
        print(f"| {name} | {took:.1f} | {rss:,.0f} |  <!-- {last[:160]} -->", flush=True)
    if args.model_dir is not None:  # e.g. still being trained by a SQLite walk
        while not (args.model_dir / "current").exists():
            time.sleep(10)
    run_pages(args, url)


def run_pages(args: argparse.Namespace, url: str) -> None:
    env = environment(args, url)
    cmd = [sys.executable, str(Path(__file__).resolve()), "_probe"]
    took, rss, _ = measured_stream(cmd, env)
    print(f"| pages process (start, load, every page twice) | {took:.1f} | {rss:,.0f} |")


def measured_stream(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """As :func:`measured`, the child's output passed through."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, ""


if __name__ == "__main__" and sys.argv[1:2] == ["_probe"]:
    from bench._scale_probe import probe

    probe()
    sys.exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=("all", "pages"))
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "helper-scale" / "walk")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--holdout", type=float, default=0.1,
                        help="train's --holdout (0: no evaluation)")
    parser.add_argument("--model-dir", type=Path,
                        help="serve this model store instead of training (the same CSV "
                             "imported into a fresh database gives the same song ids)")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--url", help="an existing database (pages) instead of --work's")
    args = parser.parse_args()
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "all" and args.csv is None:
        parser.error("all needs --csv")
    server = None
    if args.url:
        url = args.url
    elif args.postgres:
        from tests.pgserver import PostgresServer

        server = PostgresServer().start()
        url = server.url()
    else:
        db = args.work / "scale.db"
        if args.step == "all" and db.exists():
            db.unlink()
        url = f"sqlite:///{db}"
    print(f"database: {url.split('@')[-1]}   {json.dumps(os.getloadavg())} load average")
    print("| step | seconds | peak RSS (MB) |\n|---|---:|---:|")
    try:
        (run_all if args.step == "all" else run_pages)(args, url)
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
