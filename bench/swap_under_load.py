"""Model swaps under load: promotions and rollbacks while clients hammer the API (gunicorn).

Usage::

    # builds the database and 3 models from yes_small in VAR when it has fewer than 3 bundles
    .venv/bin/python bench/swap_under_load.py --var-dir var/helper-serve \\
        --yes-dir ../shared/data/yes/yes_small --swaps 100 --workers 3 --clients 3 --ops

``python -m recsys serve`` (gunicorn, ``--workers`` x ``--threads``, model poll 1 s) runs on the
store; ``--clients`` processes send ``/similar`` (similar, next, by external id, revalidated
with ``If-None-Match``), ``POST /recommendations`` (several seeds, with and without
``explain``), ``/songs/ID`` and searches back to back while the main process alternates
``python -m recsys promote V`` and ``rollback`` (``--swaps`` in all), each time waiting until
every worker's status file names the new version. Reported: answers by status, connection
errors, mixed-model answers (items or ETag of another version than the body's
``model_version``, checked against what each version answers), stale answers (an old version
after every worker reported the new one), propagation time, latency inside a swap (command
to propagation + 1 s) against outside, and each worker's RSS, open files and memory maps of
bundles at the start and the end. ``--ops`` then times operator accidents under the same load:
the current bundle deleted, the store emptied, a worker restarted, a ``HUP`` reload.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _swapload_clients import client, expected_answers  # noqa: E402
from _swapload_report import report  # noqa: E402

PY = str(REPO / ".venv/bin/python")
SAMPLE_EVERY = 25


def recsys(env: dict, *args: str, check: bool = True) -> str:
    """Run ``python -m recsys ARGS``; its stdout."""
    run = subprocess.run([PY, "-m", "recsys", *args], env=env, capture_output=True, text=True,
                         cwd=REPO)
    if check and run.returncode:
        raise RuntimeError(f"recsys {' '.join(args)}: {run.stderr[-2000:]}")
    return run.stdout


def setup(env: dict, var: Path, yes_dir: Path, n_models: int = 3) -> None:
    """Database and ``n_models`` promoted bundles (5 epochs each) in ``var``, when missing."""
    versions = var / "models" / "versions"
    have = [p for p in versions.iterdir() if not p.name.startswith(".")] if versions.is_dir() \
        else []
    if len(have) >= n_models:
        return
    recsys(env, "db", "upgrade")
    if not (var / ".imported").exists():
        recsys(env, "import", "yes", str(yes_dir))
        (var / ".imported").touch()
    for seed in range(len(have), n_models):
        recsys(env, "train", "--set", f"seed={seed + 1}", "--set", "epochs=5", "--promote")


def workers(master: int) -> list[int]:
    pids = []
    for task in Path(f"/proc/{master}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return sorted(pids)


def resources(pid: int) -> dict:
    """RSS (MB), open files, memory maps of bundle files and how many bundles they span."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        maps = [line.split(None, 5)[-1] for line in Path(f"/proc/{pid}/maps").read_text()
                .splitlines() if "models/versions/" in line]
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return {}
    rss = int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
    bundles = {m.split("models/versions/")[1].split("/")[0] for m in maps}
    return {"rss_mb": round(rss / 1024, 1), "fds": fds, "bundle_maps": len(maps),
            "bundles_mapped": len(bundles), "deleted_maps": sum("(deleted)" in m for m in maps)}


def served_versions(model_dir: Path, pids: list[int]) -> dict[int, str | None]:
    out = {}
    for path in (model_dir / "workers").glob("*.json"):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("pid") in pids:
            out[doc["pid"]] = doc.get("version")
    return out


def wait_all_on(model_dir: Path, master: int, target: str, timeout: float = 20.0) -> float | None:
    """Wall-clock time when every live worker reported ``target`` (None: timed out)."""
    end = time.time() + timeout
    while time.time() < end:
        pids = workers(master)
        seen = served_versions(model_dir, pids)
        if pids and all(seen.get(p) == target for p in pids):
            return time.time()
        time.sleep(0.05)
    return None


def wait_ready(port: int, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server never became ready")


def swap_loop(env: dict, model_dir: Path, master: int, versions: list[str], base: str,
              swaps: int, rng: random.Random, samples: dict) -> list[dict]:
    """Alternate ``promote X`` (X cycling through the other versions) and ``rollback``;
    each worker's resources in ``samples`` every ``SAMPLE_EVERY`` swaps."""
    others = itertools.cycle([v for v in versions if v != base])
    done = []
    for i in range(swaps):
        if i % SAMPLE_EVERY == 0:
            samples[i] = {p: resources(p) for p in workers(master)}
        target = next(others) if i % 2 == 0 else base
        started = time.time()
        recsys(env, *(("promote", target) if i % 2 == 0 else ("rollback",)))
        issued = time.time()
        propagated = wait_all_on(model_dir, master, target)
        done.append({"target": target, "started": started, "issued": issued,
                     "propagated": propagated})
        time.sleep(rng.uniform(0.2, 1.0))
    return done


def ops_phase(env: dict, model_dir: Path, master: int, port: int, current: str) -> list[dict]:
    """Operator accidents under load; each a time window to count answers in."""
    windows = []

    def window(name, action, undo, hold=4.0):
        t0 = time.time()
        action()
        time.sleep(hold)
        undo()
        time.sleep(2.0)
        windows.append({"name": name, "start": t0, "end": time.time()})

    bundle, aside = model_dir / "versions" / current, model_dir / "versions" / f".aside-{current}"
    window("current bundle deleted (renamed away 4 s)", lambda: bundle.rename(aside),
           lambda: aside.rename(bundle))
    away = model_dir.with_name(model_dir.name + "-away")
    recreated = []

    def put_back():
        if model_dir.exists():  # something wrote into the missing store meanwhile
            recreated.append(sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*")))
            shutil.rmtree(model_dir)
        away.rename(model_dir)

    window("model store emptied (moved away 4 s)", lambda: model_dir.rename(away), put_back)
    windows[-1]["recreated_while_away"] = recreated

    def kill_worker(sig=signal.SIGTERM):
        pids = workers(master)
        if not pids:
            raise RuntimeError("the server has no worker left")
        os.kill(pids[0], sig)

    window("one worker restarted (SIGTERM)", kill_worker, lambda: None, hold=6.0)
    window("one worker killed (SIGKILL)", lambda: kill_worker(signal.SIGKILL), lambda: None,
           hold=6.0)
    window("all workers reloaded (HUP to the master)", lambda: os.kill(master, signal.SIGHUP),
           lambda: None, hold=8.0)

    def restart_without_bundle():
        bundle.rename(aside)
        os.kill(workers(master)[0], signal.SIGTERM)

    window("current bundle deleted, then a worker restarted", restart_without_bundle,
           lambda: aside.rename(bundle), hold=6.0)
    return windows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--var-dir", type=Path, default=REPO / "var" / "helper-serve")
    ap.add_argument("--yes-dir", type=Path, default=REPO.parent / "shared/data/yes/yes_small")
    ap.add_argument("--port", type=int, default=5732)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--swaps", type=int, default=100)
    ap.add_argument("--ops", action="store_true", help="also the operator accidents")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    args = ap.parse_args()
    var = args.var_dir.resolve()
    env = {**os.environ, "RECSYS_VAR_DIR": str(var), "RECSYS_MODEL_POLL_SECONDS": "1"}
    setup(env, var, args.yes_dir)
    model_dir = var / "models"
    versions = sorted(p.name for p in (model_dir / "versions").iterdir()
                      if not p.name.startswith("."))
    base = os.readlink(model_dir / "current").split("/")[-1]
    expected, songs, ext, groups = expected_answers(model_dir, versions)
    ctx = mp.get_context("fork")
    stop, out = ctx.Event(), ctx.Queue()
    log = open(var / "swapload-serve.log", "w")  # noqa: SIM115 (the server's lifetime)
    server = subprocess.Popen(
        [PY, "-m", "recsys", "serve", "--port", str(args.port), "--workers", str(args.workers),
         "--threads", str(args.threads)], env=env, cwd=REPO, start_new_session=True,
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(args.port)
        master = server.pid
        procs = [ctx.Process(target=client, args=(args.port, stop, expected, songs, ext, groups,
                                                  i, out), daemon=True)
                 for i in range(args.clients)]
        for p in procs:
            p.start()
        time.sleep(5)  # warm-up: every worker has answered, lazy structures are built
        res_start = {p: resources(p) for p in workers(master)}
        samples: dict = {}
        swaps = swap_loop(env, model_dir, master, versions, base, args.swaps, random.Random(0),
                          samples)
        time.sleep(2)
        res_end = {p: resources(p) for p in workers(master)}
        current = os.readlink(model_dir / "current").split("/")[-1]
        ops = ops_phase(env, model_dir, master, args.port, current) if args.ops else []
        t_end = time.time()
        stop.set()
        tallies = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
    finally:
        stop.set()
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    records = [r for tally in tallies for r in tally.records]
    figures = report(records, swaps, tallies, ops, res_start, samples, res_end, t_end)
    figures["setup"] = {"workers": args.workers, "threads": args.threads,
                        "clients": args.clients, "versions": len(versions)}
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
