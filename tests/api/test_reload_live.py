"""A real gunicorn server: promoting a version under load switches every worker, no failures.

Also checks what only a multi-process server shows: metrics aggregated over workers, and a
graceful stop on SIGTERM.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from recsys.db.session import make_engine
from recsys.index.registry import promote
from recsys.recommend.beacon import read_workers, workers_dir
from tests.api.conftest import FIRST, copy_versions
from tests.conftest import REPO

N_THREADS = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


@pytest.fixture
def server(tmp_path, source_store, api_sqlite_file):
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(api_sqlite_file, var / "catalog.db")
    store = copy_versions(source_store, var / "models")
    url = f"sqlite:///{var / 'catalog.db'}"
    engine = make_engine(url)
    promote(engine, store, "v1", actor="test")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSYS_", "PROMETHEUS"))}
    env.update(RECSYS_VAR_DIR=str(var), DATABASE_URL=url, RECSYS_MODEL_POLL_SECONDS="1",
               RECSYS_ENV="development")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "2", "--threads", "4"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.log_path = tmp_path / "server.log"
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            if _get(conn, "/api/ready")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {proc.log_path.read_text()[-3000:]}")
        time.sleep(0.2)
    yield port, engine, store, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    log.close()
    engine.dispose()


def test_promotion_under_load_switches_without_a_failed_request(server):
    port, engine, store, proc = server
    results: list[list[tuple[int, str]]] = [[] for _ in range(N_THREADS)]
    stop = threading.Event()

    def hammer(out: list[tuple[int, str]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while not stop.is_set() and n < 20_000:
            n += 1
            try:
                status, body = _get(conn, f"/api/songs/{FIRST + n % 20}/similar?k=5")
                version = json.loads(body).get("model_version", "?") if status == 200 else "?"
            except (OSError, http.client.HTTPException, ValueError) as exc:
                status, version = -1, repr(exc)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            out.append((status, version))

    threads = [threading.Thread(target=hammer, args=(r,)) for r in results]
    for t in threads:
        t.start()
    time.sleep(1.0)
    promote(engine, store, "v2", actor="test")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # until every thread got v2 for a while
        time.sleep(0.5)
        if all(len(r) > 20 and {v for _, v in r[-20:]} == {"v2"} for r in results):
            break
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)

    flat = [x for r in results for x in r]
    failures = [x for x in flat if x[0] != 200]
    assert not failures, failures[:5]
    assert {v for _, v in flat} == {"v1", "v2"}
    assert all({v for _, v in r[-10:]} == {"v2"} for r in results)
    # every worker says, for the dashboard, that it serves v2
    deadline = time.monotonic() + 10
    while {w["version"] for w in read_workers(workers_dir(store.root), 30)} != {"v2"}:
        assert time.monotonic() < deadline, read_workers(workers_dir(store.root), 30)
        time.sleep(0.2)
    assert len(read_workers(workers_dir(store.root), 30)) == 2

    # counters and histograms are summed over both workers
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, text = _get(conn, "/metrics")
    assert status == 200
    samples = [s for f in text_string_to_metric_families(text.decode()) for s in f.samples]
    served = sum(s.value for s in samples if s.name == "recsys_http_requests_total"
                 and s.labels["endpoint"] == "/api/songs/<song_id>/similar")
    assert served == len(flat)
    pids = {s.labels.get("pid") for s in samples if s.name.startswith("recsys_http")}
    assert pids == {None}  # aggregated, not per process
    versions = {s.labels["version"]: s.value for s in samples if s.name == "recsys_model_info"}
    assert versions["v2"] == 1.0

    # a second `serve` on the same var dir (it cannot bind) must not wipe this one's metrics
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSYS_", "PROMETHEUS"))}
    env.update(RECSYS_VAR_DIR=str(store.root.parent), RECSYS_ENV="development")
    second = subprocess.run([sys.executable, "-m", "recsys", "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert second.returncode != 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # keep-alive timed out
    after = [s for f in text_string_to_metric_families(_get(conn, "/metrics")[1].decode())
             for s in f.samples if s.name == "recsys_http_requests_total"
             and s.labels["endpoint"] == "/api/songs/<song_id>/similar"]
    assert sum(s.value for s in after) == len(flat)
    # access-log lines carry their time; a 1,000-id exclude list fits gunicorn's request line
    status, _ = _get(conn, f"/api/songs/{FIRST}/similar?exclude="
                           + ",".join(str(10_000_000 + i) for i in range(900)))
    assert status == 200
    access = store.root.parent / "logs" / "access.log"
    deadline = time.monotonic() + 10  # a worker logs the request after sending the response
    while True:
        lines = access.read_text().splitlines()
        if any("?exclude=10000000," in line and '" 200 ' in line for line in lines):
            break
        assert time.monotonic() < deadline, lines[-5:]
        time.sleep(0.1)
    assert all(line.startswith("[") for line in lines)

    pidfile = store.root.parent / "run" / f"serve-{port}.pid"
    assert int(pidfile.read_text()) == proc.pid  # the master, for logrotate's USR1
    access.rename(access.with_suffix(".log.1"))  # what logrotate does, then USR1: reopen logs
    os.kill(proc.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not access.exists():  # the workers reopen access.log and log the next request
        _get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), "/api/health")
        assert time.monotonic() < deadline
        time.sleep(0.2)

    proc.send_signal(signal.SIGTERM)  # graceful stop
    assert proc.wait(30) == 0, proc.log_path.read_text()[-3000:]
    assert read_workers(workers_dir(store.root), 3600) == []  # stopped workers are not listed
    assert not pidfile.exists()
