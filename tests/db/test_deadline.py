"""The client-side deadline's watchdog (recsys.db.deadline) on socket pairs, and its hooks on a
real PostgreSQL engine: only calls made while ``active()`` are cut off."""

from __future__ import annotations

import logging
import random
import socket
import threading
import time

import pytest
from sqlalchemy import exc, text

from recsys.db.deadline import GUARDED, Watchdog, client_deadline
from recsys.db.session import is_unavailable, make_engine


def _shut(sock: socket.socket, wait: float = 0.0) -> bool:
    """Whether the peer of ``sock`` was shut down (reads EOF) within ``wait`` seconds."""
    sock.settimeout(wait or 0.001)
    try:
        return sock.recv(1) == b""
    except (TimeoutError, BlockingIOError):
        return False


def test_a_call_disarmed_in_time_is_never_shot():
    dog, left, right = Watchdog(), *socket.socketpair()
    with left, right:
        guard = dog.arm(left.fileno(), 0.2, "SELECT 1")
        assert dog.disarm(guard) is False
        assert not _shut(right, wait=0.5)  # well past the deadline
        left.sendall(b"x")
        assert right.recv(1) == b"x"


def test_a_call_past_its_deadline_is_shot_once(caplog):
    fired = []
    dog, left, right = Watchdog(), *socket.socketpair()
    with left, right, caplog.at_level(logging.WARNING, "recsys.db"):
        started = time.monotonic()
        guard = dog.arm(left.fileno(), 0.2, "SELECT songs.id, songs.title FROM songs WHERE x",
                        on_fire=lambda: fired.append(1))
        assert _shut(right, wait=5)
        assert 0.15 < time.monotonic() - started < 2
        assert dog.disarm(guard) is True
        time.sleep(0.1)
        assert fired == [1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "0.2 s client deadline" in warnings[0]
    assert "'SELECT songs.id, songs.title FROM …'" in warnings[0]


def test_disarm_and_the_deadline_never_disagree():
    """A call that ends right at its deadline: either disarm() says it was shot, or its socket,
    pooled again, stays whole (no late shot)."""
    dog, rng, shot = Watchdog(), random.Random(7), 0
    for _ in range(150):
        left, right = socket.socketpair()
        with left, right:
            guard = dog.arm(left.fileno(), 0.002, "SELECT 1")
            time.sleep(rng.choice((0, rng.uniform(0.001, 0.004))))
            fired = dog.disarm(guard)
            shot += fired
            assert _shut(right, wait=0.01 if not fired else 1) is fired
    assert 0 < shot < 150  # both outcomes happened


def test_many_deadlines_fire_in_order_of_expiry():
    dog = Watchdog()
    pairs = [socket.socketpair() for _ in range(3)]
    try:
        late = dog.arm(pairs[0][0].fileno(), 30, "SELECT late")
        soon = dog.arm(pairs[1][0].fileno(), 0.1, "SELECT soon")  # earlier: wakes the thread
        kept = dog.arm(pairs[2][0].fileno(), 0.3, "SELECT kept")
        dog.disarm(kept)
        assert _shut(pairs[1][1], wait=5)
        assert not _shut(pairs[2][1], wait=0.5) and not _shut(pairs[0][1])
        assert dog.disarm(soon) and not dog.disarm(late)
    finally:
        for left, right in pairs:
            left.close()
            right.close()


def test_calls_of_a_thread_reuse_its_slot():
    """Nothing is allocated per call: each thread arms its own slot again (a nested call gets
    another), and a finished thread's slot is dropped."""
    dog, left, right = Watchdog(), *socket.socketpair()
    with left, right:
        for _ in range(1000):
            dog.disarm(dog.arm(left.fileno(), 60, "SELECT 1"))
        outer = dog.arm(left.fileno(), 60, "SELECT 1")
        inner = dog.arm(left.fileno(), 0.1, "SELECT 2")
        assert inner is not outer and len(dog._slots) == 2
        assert _shut(right, wait=5) and dog.disarm(inner) and not dog.disarm(outer)
        del inner
        worker = threading.Thread(target=lambda: dog.disarm(dog.arm(left.fileno(), 60, "x")))
        worker.start()
        worker.join()
        del worker
        assert len(dog._slots) == 1


def test_a_call_shot_just_as_it_returned_fails_and_closes_its_connection():
    """The watchdog fired but the call still returned (its answer was in): the connection is
    closed by its own thread and the call raises, so SQLAlchemy discards the connection."""
    import psycopg

    from recsys.db.deadline import _guarded

    left, right = socket.socketpair()

    class Raw:
        closed = False

        def fileno(self) -> int:
            return left.fileno()

        def close(self) -> None:
            self.closed = True

    class Cursor:
        connection = Raw()

    def slow_call(cursor, statement, parameters, context=None):  # ignores the shutdown
        time.sleep(0.3)

    guarded = _guarded(slow_call, "do_execute", 0.05, lambda: True, None)
    with left, right:
        quick = _guarded(lambda *args: "rows", "do_execute", 5, lambda: True, None)
        assert quick(Cursor(), "SELECT 1", {}) == "rows" and not _shut(right)
        with pytest.raises(psycopg.OperationalError, match="0.05 s client deadline"):
            guarded(Cursor(), "SELECT 1 FROM songs", {})
        assert Cursor.connection.closed and _shut(right)


def test_off_at_zero_and_off_other_than_postgresql(sqlite_url):
    never_active = threading.Event().is_set
    pg = make_engine("postgresql://u@127.0.0.1:9/db")  # never connects
    client_deadline(pg, 0, never_active)
    lite = make_engine(sqlite_url)
    client_deadline(lite, 5, never_active)
    for engine in (pg, lite):
        assert not set(GUARDED) & set(vars(engine.dialect))
    client_deadline(pg, 5, never_active)
    assert set(GUARDED) <= set(vars(pg.dialect))


def test_the_setting_defaults_to_just_past_the_statement_timeout(monkeypatch):
    from recsys.config import Config

    for name in ("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", "RECSYS_DB_STATEMENT_TIMEOUT_MS"):
        monkeypatch.delenv(name, raising=False)
    assert Config().DB_CLIENT_TIMEOUT_SECONDS == 7
    monkeypatch.setenv("RECSYS_DB_STATEMENT_TIMEOUT_MS", "0")
    assert Config().DB_CLIENT_TIMEOUT_SECONDS == 0
    monkeypatch.setenv("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", "1.5")
    assert Config().DB_CLIENT_TIMEOUT_SECONDS == 1.5
    monkeypatch.setenv("RECSYS_DB_CLIENT_TIMEOUT_SECONDS", "soon")
    with pytest.raises(RuntimeError, match="RECSYS_DB_CLIENT_TIMEOUT_SECONDS"):
        Config()


@pytest.mark.postgres
def test_only_calls_made_while_active_are_cut_off(pg_server):
    """A job's long statement runs to its end; the same statement in a request is cut off at
    the deadline and its connection leaves the pool."""
    active = threading.local()
    engine = make_engine(pg_server.url())
    client_deadline(engine, 0.5, lambda: getattr(active, "on", False))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1 FROM pg_sleep(1.0)")).scalar() == 1
        active.on = True
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            started = time.monotonic()
            with pytest.raises(exc.OperationalError) as info:
                conn.execute(text("SELECT pg_sleep(3)"))
            assert time.monotonic() - started < 2
        assert info.value.connection_invalidated and is_unavailable(info.value)
        started = time.monotonic()  # the breaker is open: the next request fails at once
        with pytest.raises(exc.OperationalError, match="not waiting for it again") as info, \
                engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert time.monotonic() - started < 0.2 and is_unavailable(info.value)
        time.sleep(0.6)  # past the cooldown: one probe goes through, and the breaker closes
        with engine.connect() as conn:  # a new connection, and quick calls go through
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    finally:
        engine.dispose()
