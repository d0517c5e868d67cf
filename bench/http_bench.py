"""HTTP benchmark: ``/api/songs/<id>/similar`` of our API vs the book's app, same gunicorn setup.

Usage::

    # yes_big: builds var/bench/yesbig (db upgrade, import, train --promote) when missing
    .venv/bin/python bench/http_bench.py --yes-dir ../shared/data/yes/yes_big
    # any store with a promoted model
    .venv/bin/python bench/http_bench.py --model-dir var/models --database-url sqlite:///var/recsys.db
    # 1,000,000 synthetic songs (64 dims): Annoy-backed API vs exact search per request
    .venv/bin/python bench/http_bench.py --synthetic-songs 1000000

Both servers run one after the other on 127.0.0.1 behind gunicorn with the same worker count,
worker class and threads (``--rounds`` > 1 alternates them: api, book, api, book, ...); each
gets a short warm-up and then a fixed-duration ``wrk`` run (32 connections, random song ids
from the bundle). The book app serves the bundle's own input vectors (exported to a gensim
``KeyedVectors`` file), so both answer over the same catalog with vectors of the same size.
Reported: req/s, p50/p90/p99 latency, non-2xx responses, resident memory of the workers (VmRSS
and PSS, which counts shared memory-mapped pages once) and the load average around the runs.
``wrk`` is installed with apt-get when missing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _http_setup import (  # noqa: E402
    BLAS_THREAD_VARS,
    build_synthetic_bundle,
    build_yes_setup,
    cpu_seconds,
    ensure_wrk,
    export_book_vectors,
    process_memory,
    write_lua,
)

from recsys.serving import DEFAULT_THREADS, default_workers  # noqa: E402

log = logging.getLogger("bench.http")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ok(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout}s")


def run_wrk(wrk: str, lua: Path, port: int, args, duration: int) -> dict:
    cmd = [wrk, "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{duration}s",
           "--timeout", "10s", "-s", str(lua), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next(x for x in out.stdout.splitlines() if x.startswith("JSON "))
    stats = json.loads(line[5:])
    stats["req_per_s"] = round(stats["requests"] / (stats["duration_us"] / 1e6), 1)
    return stats


def bench_server(name: str, cmd: list[str], env: dict, ready_path: str, wrk: str, lua: Path,
                 args) -> dict:
    port = free_port()
    cmd = [c.replace("{port}", str(port)) for c in cmd]
    logf = (args.work_dir / f"{name}.log").open("w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        wait_ok(f"http://127.0.0.1:{port}{ready_path}", proc, args.start_timeout)
        time.sleep(2)  # let every worker finish warming
        ready_s = time.monotonic() - started
        run_wrk(wrk, lua, port, args, args.warmup)
        cpu = cpu_seconds(proc.pid)
        stats = run_wrk(wrk, lua, port, args, args.duration)
        cpu = cpu_seconds(proc.pid) - cpu
        stats["worker_cpu_us_per_request"] = round(cpu / max(stats["requests"], 1) * 1e6, 1)
        stats.update(process_memory(proc.pid), start_s=round(ready_s, 1))
        return stats
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        logf.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model-dir", type=Path, help="Model store with a current version.")
    src.add_argument("--synthetic-songs", type=int, help="Build a synthetic catalog this big.")
    src.add_argument("--yes-dir", type=Path,
                     help="Yes.com playlist directory (e.g. ../shared/data/yes/yes_big): import "
                          "and train it into --yes-var-dir when that has no model yet.")
    ap.add_argument("--yes-var-dir", type=Path, default=REPO / "var" / "bench" / "yesbig")
    ap.add_argument("--train-set", action="append", default=[], metavar="KEY=VALUE",
                    help="Training setting override for --yes-dir (e.g. epochs=5).")
    ap.add_argument("--synthetic-recall", type=float, default=0.95,
                    help="Annoy recall@10 target of the synthetic bundle (0.9: the first run's).")
    ap.add_argument("--database-url", help="Catalog database (default: empty SQLite).")
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    ap.add_argument("--rounds", type=int, default=1,
                    help="Measured runs per server, alternating api and book.")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--duration", type=int, default=20, help="Seconds of each measured run.")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--start-timeout", type=float, default=600)
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench" / "http")
    ap.add_argument("--skip-book", action="store_true")
    ap.add_argument("--out", type=Path, help="Write the results as JSON.")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("duration", "warmup", "connections", "workers", "threads", "rounds"):
        if not 1 <= getattr(args, name) <= 600:
            ap.error(f"--{name} must be between 1 and 600")
    args.work_dir.mkdir(parents=True, exist_ok=True)

    from recsys.db import migrate
    from recsys.index.store import ModelStore

    if args.synthetic_songs:
        model_dir = args.work_dir / f"synthetic-{args.synthetic_songs}" / "models"
        t0 = time.perf_counter()
        build_synthetic_bundle(model_dir, args.synthetic_songs,
                               target_recall=args.synthetic_recall)
        log.info("synthetic bundle ready in %.0fs", time.perf_counter() - t0)
    elif args.yes_dir:
        model_dir, yes_db = build_yes_setup(args.yes_dir, args.yes_var_dir, args.train_set)
        args.database_url = args.database_url or yes_db
    else:
        model_dir = args.model_dir.resolve()
    store = ModelStore(model_dir)
    version = store.current_version()
    if version is None:
        ap.error(f"{model_dir} has no current model version")
    bundle = store.path(version)
    db_url = args.database_url or f"sqlite:///{args.work_dir / 'bench.db'}"
    if not args.database_url:
        migrate.upgrade(db_url)

    import numpy as np

    wrk = ensure_wrk()
    lua = write_lua(args.work_dir / "similar.lua", np.load(bundle / "song_ids.npy"), args.k)
    base_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("RECSYS_", "PROMETHEUS", "DATABASE_URL"))}
    # what `recsys serve` sets by default; given to the book app too (it is 6x slower without)
    base_env.update({var: "1" for var in BLAS_THREAD_VARS})
    results = {"model_version": version, "songs": int(np.load(bundle / "song_ids.npy").size),
               "manifest_indexes": json.loads((bundle / "manifest.json").read_text())[
                   "indexes"], "workers": args.workers, "threads": args.threads,
               "connections": args.connections, "duration_s": args.duration}
    ours_env = {**base_env, "RECSYS_MODEL_DIR": str(model_dir), "DATABASE_URL": db_url,
                "RECSYS_VAR_DIR": str(args.work_dir / "var"), "RECSYS_LOG_LEVEL": "WARNING",
                "RECSYS_MODEL_POLL_SECONDS": "5"}
    servers = {"api": ([sys.executable, "-m", "recsys", "serve", "--host", "127.0.0.1",
                        "--port", "{port}", "--workers", str(args.workers), "--threads",
                        str(args.threads)], ours_env, "/api/ready")}
    if not args.skip_book:
        book_model = export_book_vectors(bundle, args.work_dir / "book" / f"{version}.kv")
        servers["book"] = (
            [sys.executable, "-m", "gunicorn", "-k", "gthread", "-w", str(args.workers),
             "--threads", str(args.threads), "--timeout", "300", "-b", "127.0.0.1:{port}",
             "--log-level", "warning", "bench.book_app:app"],
            {**base_env, "BOOK_MODEL": str(book_model)}, "/health")
    results["loadavg_before"] = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for _ in range(args.rounds):
        for name, (cmd, env, ready) in servers.items():
            runs[name].append(bench_server(name, cmd, env, ready, wrk, lua, args))
            log.info("%s: %s", name, runs[name][-1])
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    for name, stats in runs.items():
        # the run with the median req/s stands for the server; every run is kept as well
        results[name] = sorted(stats, key=lambda r: r["req_per_s"])[(len(stats) - 1) // 2]
        if len(stats) > 1:
            results[f"{name}_runs"] = stats
    if "book" in results:
        results["speedup_req_per_s"] = round(
            results["api"]["req_per_s"] / max(results["book"]["req_per_s"], 1e-9), 2)
        results["p99_ratio_api_over_book"] = round(
            results["api"]["p99_us"] / max(results["book"]["p99_us"], 1), 2)
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
