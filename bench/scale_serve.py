"""Serving a large model: every model-dependent page and API request, latency, SQL and memory.

Usage::

    # a database with a promoted model (e.g. bench/scale_walk.py's, trained with epochs=1)
    .venv/bin/python bench/scale_serve.py --database-url sqlite:///var/helper-scale2/scale.db \
        --var-dir var/helper-scale2/var [--repeat 7] [--growth 200] [--profile NAME ...] [--http]

In a fresh process (one BLAS thread, as a ``serve`` worker has): the app's start and the model
load (seconds, RSS), then each request of :mod:`bench._serve_requests` once cold and
``--repeat`` times warm (median), with its status, body size and statements; then
``--growth`` passes over every API request and page, and the process's anonymous RSS after
each quarter (memory that grows with requests). ``--profile NAME`` prints a cProfile of that
request (warm). ``--http``: the same requests against a real ``python -m recsys serve``
(gunicorn, ``--workers`` x 4 threads) one at a time from one client, with each worker's model
load time (its log line), RSS and PSS before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PASSWORD = "scale-walk-password"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, RssAnon, RssFile (status) and Pss (smaps_rollup) of a process, in KB."""
    out: dict[str, int] = {}
    for name, keys in (("status", ("VmRSS", "RssAnon", "RssFile", "VmHWM")),
                       ("smaps_rollup", ("Pss",))):
        for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
            key = line.split(":")[0]
            if key in keys:
                out[key] = int(line.split()[1])
    return out


def mb(kb: int) -> str:
    return f"{kb / 1024:,.0f}"


def probe(args: argparse.Namespace) -> None:
    """The in-process walk (run in a fresh child)."""
    import cProfile
    import pstats

    started = time.perf_counter()
    from bench._scale_probe import Statements
    from bench._serve_requests import pick_ids, requests
    from recsys import create_app
    from recsys.api import deps
    from recsys.extensions import db

    app = create_app()
    created = time.perf_counter()
    before = memory_kb()
    model = deps.warm(app)
    loaded = time.perf_counter()
    if model is None:
        sys.exit("no model is current: train one with --promote first")
    after = memory_kb()
    print(f"\napp start {created - started:.2f} s; model {model.version} load "
          f"{loaded - created:.2f} s ({len(model):,} songs); RSS {mb(before['VmRSS'])} → "
          f"{mb(after['VmRSS'])} MB (anonymous {mb(before['RssAnon'])} → "
          f"{mb(after['RssAnon'])}, file {mb(before['RssFile'])} → {mb(after['RssFile'])})\n")
    with app.app_context():
        engine = db.engine
    stmts = Statements(engine)
    ids = pick_ids(app, model)
    print(f"seeds: {json.dumps({k: v for k, v in ids.items() if not isinstance(v, list)})}\n")
    client = app.test_client()
    token = CSRF_RE.search(client.get("/admin/login").get_data(as_text=True)).group(1)
    assert client.post("/admin/login", data={"username": "admin", "password": PASSWORD,
                                             "csrf_token": token}).status_code == 302
    walk = requests(ids, model)

    def send(how, path):
        return client.get(path) if how is None else client.post(path, json=how)

    print("| request | status | cold ms | warm ms (median) | KB | statements | slowest ms "
          "| RSS MB |\n|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, path, how in walk:
        times = []
        for _ in range(1 + args.repeat):
            stmts.rows.clear()
            t0 = time.perf_counter()
            resp = send(how, path)
            times.append(time.perf_counter() - t0)
        body = resp.get_data()
        worst = max((r[0] for r in stmts.rows), default=0.0)
        print(f"| {name} | {resp.status_code} | {times[0] * 1000:,.1f} | "
              f"{statistics.median(times[1:]) * 1000:,.1f} | {len(body) / 1024:,.1f} | "
              f"{len(stmts.rows)} | {worst * 1000:,.1f} | {mb(memory_kb()['VmRSS'])} |",
              flush=True)
    for wanted in args.profile:
        for name, path, how in walk:
            if name == wanted:
                prof = cProfile.Profile()
                prof.enable()
                for _ in range(max(args.repeat, 1)):
                    send(how, path)
                prof.disable()
                print(f"\nprofile of {name} ({max(args.repeat, 1)} requests):")
                pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    if args.growth:
        print(f"\nMemory over {args.growth} passes of all {len(walk)} requests "
              "(RSS / anonymous RSS, MB):\n")
        marks = [memory_kb()]
        for i in range(args.growth):
            for _name, path, how in walk:
                send(how, path)
            if (i + 1) % max(args.growth // 4, 1) == 0:
                marks.append(memory_kb())
        print(" → ".join(f"{mb(m['VmRSS'])} / {mb(m['RssAnon'])}" for m in marks))


def serve_http(args: argparse.Namespace, env: dict[str, str]) -> None:
    """The walk against a real gunicorn server, one request at a time."""
    import socket
    import urllib.request
    from http.cookiejar import CookieJar

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = Path(env["RECSYS_VAR_DIR"]) / "logs" / "recsys.log"
    mark = log.stat().st_size if log.exists() else 0
    server = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(args.workers)], env={**env, "RECSYS_LOG_LEVEL": "INFO"}, cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.perf_counter()
        while True:
            try:
                with urllib.request.urlopen(base + "/api/ready", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if server.poll() is not None:
                    sys.exit("the server exited")
                time.sleep(0.2)
        print(f"\ngunicorn {args.workers} workers: ready after {time.perf_counter() - t0:.1f} s")
        while True:  # every worker's load logged (each warms its model at start)
            loads = re.findall(r"serving model \S+ \(([\d]+) songs, loaded in ([\d.]+)s\)",
                               log.read_text(errors="replace")[mark:])
            if len(loads) >= args.workers or time.perf_counter() - t0 > 120:
                break
            time.sleep(0.2)
        print(f"every worker loaded after {time.perf_counter() - t0:.1f} s")
        print(f"worker model loads (songs, seconds): {loads}")
        workers = [int(p) for p in subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True,
            text=True).stdout.split()]

        def mem() -> str:
            rows = [memory_kb(p) for p in workers]
            return ", ".join(f"RSS {mb(r['VmRSS'])} (anon {mb(r['RssAnon'])}) PSS "
                             f"{mb(r['Pss'])}" for r in rows)

        print(f"workers after start: {mem()}")
        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        html = opener.open(base + "/admin/login").read().decode()
        token = CSRF_RE.search(html).group(1)
        data = urllib.parse.urlencode({"username": "admin", "password": PASSWORD,
                                       "csrf_token": token}).encode()
        opener.open(base + "/admin/login", data=data)
        from bench._serve_requests import requests
        ids = json.loads(Path(args.ids_file).read_text())
        print("| request | status | first ms | warm ms (median) |\n|---|---:|---:|---:|")
        for name, path, how in requests(ids, None):
            times, status = [], 0
            for _ in range(1 + args.repeat):
                req = urllib.request.Request(base + path)
                if how is not None:
                    req = urllib.request.Request(base + path, data=json.dumps(how).encode(),
                                                 headers={"Content-Type": "application/json"})
                t = time.perf_counter()
                try:
                    with opener.open(req, timeout=60) as resp:
                        resp.read()
                        status = resp.status
                except urllib.error.HTTPError as exc:
                    status = exc.code
                times.append(time.perf_counter() - t)
            print(f"| {name} | {status} | {times[0] * 1000:,.1f} | "
                  f"{statistics.median(times[1:]) * 1000:,.1f} |", flush=True)
        print(f"workers after the walk: {mem()}")
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=7, help="warm requests per row")
    parser.add_argument("--growth", type=int, default=0, help="passes for the memory check")
    parser.add_argument("--profile", action="append", default=[], help="request name")
    parser.add_argument("--http", action="store_true", help="also walk a gunicorn server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ids-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        probe(args)
        return
    env = {**os.environ, "DATABASE_URL": args.database_url,
           "RECSYS_VAR_DIR": str(args.var_dir.resolve()), "RECSYS_ADMIN_PASSWORD": PASSWORD,
           "RECSYS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(REPO),
           **{v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, load average {os.getloadavg()}")
    ids_file = args.var_dir.resolve() / "serve_ids.json"
    cmd = [sys.executable, __file__, "--child", "--database-url", args.database_url,
           "--var-dir", str(args.var_dir), "--repeat", str(args.repeat),
           "--growth", str(args.growth), "--ids-file", str(ids_file),
           *[x for p in args.profile for x in ("--profile", p)]]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**env, "SCALE_SERVE_IDS": str(ids_file)}, cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("the walk failed")
    print(f"\nwalk process: {time.perf_counter() - t0:.0f} s, peak RSS "
          f"{usage.ru_maxrss / 1024:,.0f} MB")
    if args.http:
        args.ids_file = ids_file
        serve_http(args, env)
    print(f"load average {os.getloadavg()}")


if __name__ == "__main__":
    main()
