"""A PostgreSQL server that is frozen (SIGSTOP: its kernel still acknowledges TCP, so neither
the statement timeout nor keepalives end the wait): requests that need the database get the
usual retryable 503 at the client deadline (RECSYS_DB_CLIENT_TIMEOUT_SECONDS), the frozen
connection leaves the pool, and answers from the model keep flowing.

Requests run in threads joined with a timeout, so a regression fails instead of hanging the
suite; every stopped process gets SIGCONT in a ``finally``.
"""

from __future__ import annotations

import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from recsys.db.session import make_engine
from tests.admin.conftest import csrf_from
from tests.api.conftest import FIRST, copy_versions, populate, songs_locked
from tests.conftest import REPO

PG = [pytest.param("postgresql", marks=pytest.mark.postgres)]
DEADLINE = 1.5  # seconds; libpq connects for at least 2 s


@contextmanager
def stopped(pids):
    """SIGSTOP ``pids`` for the duration of the block; SIGCONT whatever happens."""
    pids = list(pids)
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def in_thread(call, timeout: float):
    """``call()`` in a thread: (its result or exception, seconds), or fail after ``timeout``."""
    out = {}

    def run():
        try:
            out["value"] = call()
        except BaseException as exc:  # reported below
            out["value"] = exc

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"still waiting after {timeout} s"
    return out["value"], time.monotonic() - started


def backends(observer, db_url: str, where: str = "true") -> list[int]:
    """Server processes of ``db_url``'s database (not ``observer``'s own)."""
    with observer.connect() as conn:
        return list(conn.execute(text(
            f"SELECT pid FROM pg_stat_activity WHERE datname = :db AND {where}"),
            {"db": db_url.rsplit("/", 1)[1]}).scalars())


def postmaster(pg_server) -> int:
    return int((pg_server.data / "postmaster.pid").read_text().split()[0])


@pytest.fixture
def observer(pg_server):
    engine = make_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def assert_503(resp, elapsed: float, limit: float) -> None:
    assert not isinstance(resp, BaseException), resp
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Retry-After"] == "5"
    assert "database is unavailable" in resp.get_json()["error"]["message"]
    assert DEADLINE * 0.9 < elapsed < limit


@pytest.mark.parametrize("db_url", PG, indirect=True)
def test_a_statement_on_a_frozen_backend_gets_a_503_and_the_pool_recovers(
        build_app, db_url, observer, caplog):
    app = build_app(url=db_url, DB_CLIENT_TIMEOUT_SECONDS=DEADLINE)
    client = app.test_client()
    assert client.get("/api/songs?q=song").status_code == 200
    # the lock keeps the request's search waiting on the server until it is frozen
    with songs_locked(db_url) as release:
        request = threading.Thread(target=lambda: out.append(
            (client.get("/api/songs?q=song"), time.monotonic())), daemon=True)
        out, started = [], time.monotonic()
        with caplog.at_level(logging.WARNING, "recsys"):
            request.start()
            waiting = []
            while not waiting and time.monotonic() - started < 5:
                waiting = backends(observer, db_url, "wait_event_type = 'Lock'")
            assert len(waiting) == 1
            with stopped(waiting):
                release.set()  # the frozen backend cannot use the lock it is granted
                request.join(10)
                assert not request.is_alive(), "the request hung on the frozen backend"
        resp, ended = out[0]
        assert_503(resp, ended - started, 5)
    assert any("passed the 1.5 s client deadline" in r.getMessage()
               and "statement 'SELECT" in r.getMessage() for r in caplog.records)
    time.sleep(DEADLINE)  # the breaker's cooldown (recsys.db.breaker): then one probe
    assert client.get("/api/songs?q=song").status_code == 200  # a new connection
    assert waiting[0] not in backends(observer, db_url, "state = 'idle'")  # discarded
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "recsys_db_client_timeouts_total 1.0" in metrics


@pytest.mark.parametrize("db_url", PG, indirect=True)
def test_a_server_frozen_after_the_answer_does_not_hold_the_request(build_app, db_url, caplog):
    """The request's queries are done, then its backend freezes: the rollback that ends the
    request is cut off at the deadline, logged, and the answer goes out."""
    app = build_app(url=db_url, DB_CLIENT_TIMEOUT_SECONDS=DEADLINE)
    frozen = []

    @app.get("/test/freeze-after-query")
    def freeze_after_query():
        from recsys.extensions import db

        frozen.append(db.session.execute(text("SELECT pg_backend_pid()")).scalar())
        os.kill(frozen[0], signal.SIGSTOP)
        return "answered"

    client = app.test_client()
    try:
        with caplog.at_level(logging.WARNING, "recsys"):
            resp, elapsed = in_thread(lambda: client.get("/test/freeze-after-query"), 20)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    assert not isinstance(resp, BaseException), resp
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "answered"
    assert DEADLINE * 0.9 < elapsed < DEADLINE + 2
    messages = [r.getMessage() for r in caplog.records]
    assert any("rollback passed the 1.5 s client deadline" in m for m in messages)
    assert any("connection lost while ending a request" in m for m in messages)
    time.sleep(DEADLINE)  # the breaker's cooldown
    assert client.get("/api/songs?q=song").status_code == 200


@pytest.mark.parametrize("db_url", PG, indirect=True)
def test_a_frozen_server_gets_503s_from_what_needs_it_and_answers_from_the_model(
        build_app, db_url, observer, pg_server):
    """Postmaster and backends stopped: a pooled connection's ping is cut off at the deadline
    and the breaker opens, so the request does not wait to connect again, and the next one
    (the dashboard, which shows its own page) fails at once."""
    app = build_app(url=db_url, DB_CLIENT_TIMEOUT_SECONDS=DEADLINE,
                    ADMIN_PASSWORD="a long password", ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    assert client.get("/api/songs?q=song").status_code == 200
    token = csrf_from(client)
    with stopped([postmaster(pg_server), *backends(observer, db_url)]):
        resp, elapsed = in_thread(lambda: client.get("/api/songs?q=song"), 20)
        assert_503(resp, elapsed, DEADLINE + 1)  # no second wait to reconnect
        resp, elapsed = in_thread(lambda: client.post("/admin/login", data={
            "username": "admin", "password": "a long password", "csrf_token": token}), 20)
        page = resp.get_data(as_text=True)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
        assert "Database unavailable" in page and elapsed < 0.5  # the breaker is open
        resp, elapsed = in_thread(lambda: client.get(f"/api/songs/{FIRST}/similar"), 20)
        assert resp.status_code == 200 and elapsed < 1
        time.sleep(DEADLINE)  # past the cooldown, one probe waits again while still frozen
        resp, elapsed = in_thread(lambda: client.get("/api/songs?q=song"), 20)
        assert_503(resp, elapsed, DEADLINE + 1)
    time.sleep(DEADLINE)
    assert client.get("/api/songs?q=song").status_code == 200  # the probe closes it


@pytest.mark.parametrize("db_url", PG, indirect=True)
def test_the_hidden_songs_watcher_keeps_its_set_on_a_frozen_server(build_app, db_url,
                                                                    observer, pg_server):
    """The watcher thread reads the hidden songs as a request would: cut off at the deadline
    (then refused at once while the breaker is open) instead of waiting for the server."""
    from recsys.api.deps import holder

    app = build_app(url=db_url, DB_CLIENT_TIMEOUT_SECONDS=DEADLINE)
    watcher = holder(app)
    assert watcher.check_hidden()  # a first read: the set it will keep
    kept = watcher._hidden_ids
    with stopped([postmaster(pg_server), *backends(observer, db_url)]):
        ok, elapsed = in_thread(watcher.check_hidden, 20)
        assert ok is False and elapsed < DEADLINE + 1, elapsed
        ok, elapsed = in_thread(watcher.check_hidden, 20)  # the breaker is open: at once
        assert ok is False and elapsed < 0.5, elapsed
        assert watcher._hidden_ids == kept
    time.sleep(DEADLINE)  # the cooldown; then a read is the probe, and it answers
    assert watcher.check_hidden()


@pytest.fixture
def gunicorn(tmp_path, source_store, api_model, api_playlists, db_url):
    """``recsys serve``: one worker with two threads, on the database ``db_url``."""
    populate(db_url, api_model, api_playlists)
    var = tmp_path / "var"
    copy_versions(source_store, var / "models").set_current("v1")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RECSYS_", "PROM"))}
    env.update(RECSYS_VAR_DIR=str(var), DATABASE_URL=db_url, RECSYS_ENV="development",
               RECSYS_DB_CLIENT_TIMEOUT_SECONDS=str(DEADLINE))
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "recsys", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--threads", "2"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while get(port, "/api/ready", 2)[0] != 200:
            assert proc.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "server.log").read_text()[-3000:])
            time.sleep(0.2)
        yield port
    finally:
        proc.kill()
        proc.wait(10)
        log.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, timeout: float) -> tuple[int, bytes]:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    except OSError as exc:
        return 0, str(exc).encode()


@pytest.mark.parametrize("db_url", PG, indirect=True)
def test_requests_hung_on_a_frozen_server_leave_a_thread_for_the_model(gunicorn, db_url,
                                                                      observer, pg_server):
    """The only worker has two threads, so one database slot (``serve`` sets threads - 1):
    while one search waits for the frozen server, the others are refused within the slot wait
    and /similar, which needs no database, is answered at once (before the slots: only when
    the deadline freed a thread, and never while searches kept coming)."""
    port = gunicorn
    assert get(port, "/api/songs?q=song", 10)[0] == 200
    results: list[tuple[tuple[int, bytes], float]] = []

    def search():
        started = time.monotonic()
        results.append((get(port, "/api/songs?q=song", 30), time.monotonic() - started))

    with stopped([postmaster(pg_server), *backends(observer, db_url)]):
        hung = [threading.Thread(target=search, daemon=True) for _ in range(4)]
        for thread in hung:
            thread.start()
            time.sleep(0.05)
        (status, body), elapsed = in_thread(
            lambda: get(port, f"/api/songs/{FIRST}/similar", 30), 30)
        assert status == 200, body
        assert elapsed < 2, elapsed
        for thread in hung:
            thread.join(DEADLINE + 5)
    statuses = sorted(status for (status, _body), _t in results)
    assert statuses == [503] * 4, results
    quick = [t for _r, t in results if t < 1.5]
    assert len(quick) >= 3, results  # refused within the slot wait, not after the deadline
    time.sleep(DEADLINE)  # the breaker's cooldown
    assert get(port, "/api/songs?q=song", 10)[0] == 200
