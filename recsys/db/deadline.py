"""A client-side deadline for the database work of web requests on PostgreSQL.

``statement_timeout`` is enforced by the server, and TCP keepalives by the kernels: a server that
is frozen (a stopped process, a storage hang) while its kernel still acknowledges packets
answers neither, and a request waiting for it would hold its server thread forever. Here each
DBAPI call made while ``active()`` (a statement, pre-ping, commit, rollback) is registered with
one watchdog thread per process; when a call outlives its deadline, the watchdog shuts the
connection's socket down (``shutdown(2)`` on a duplicate of its descriptor, which frees nothing
of libpq's from the wrong thread). The waiting thread then gets a broken connection error,
SQLAlchemy discards the connection from its pool, and the request answers the usual 503.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, event

log = logging.getLogger("recsys.db")

#: The dialect's DBAPI calls that wait for the server (no event wraps them whole): whether the
#: first argument is a cursor (else a connection).
GUARDED = {"do_execute": True, "do_execute_no_params": True, "do_executemany": True,
           "do_ping": False, "do_commit": False, "do_rollback": False}


class _Guard:
    """One armed call: the socket to shut down (``fd`` -1 once disarmed or fired)."""

    __slots__ = ("fd", "seconds", "what", "on_fire", "fired")

    def __init__(self, fd: int, seconds: float, what: str, on_fire) -> None:
        self.fd, self.seconds, self.what, self.on_fire = fd, seconds, what, on_fire
        self.fired = False


class Watchdog:
    """Deadlines of the calls in flight in this process, in a heap, and the thread that acts.

    Disarming and firing take the same lock, and a guard fires only while armed: a call that
    returns exactly at its deadline either was shot (and learns it from :meth:`disarm`) or is
    disarmed first, so the connection, pooled again, is never shot later.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, _Guard]] = []  # disarmed ones leave when due...
        self._compact_at = 1024  # ...or when they are half of a heap this long
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float, what: str, on_fire=None) -> _Guard:
        """Shut ``fd`` down unless :meth:`disarm` is called within ``seconds``."""
        guard = _Guard(fd, seconds, what, on_fire)
        due = time.monotonic() + seconds
        with self._lock:
            if self._thread is None:  # started on first use, never at import
                self._thread = threading.Thread(target=self._run, name="recsys-db-deadline",
                                                daemon=True)
                self._thread.start()
            heap = self._heap
            if len(heap) >= self._compact_at:  # amortised O(1): at most every live-count arms
                heap[:] = [entry for entry in heap if entry[2].fd >= 0]
                heapq.heapify(heap)
                self._compact_at = max(1024, 2 * len(heap))
            heapq.heappush(heap, (due, next(self._seq), guard))
            if heap[0][2] is guard:  # the earliest deadline changed
                self._wake.notify()
        return guard

    def disarm(self, guard: _Guard) -> bool:
        """End ``guard``; whether it fired (then its connection is unusable)."""
        with self._lock:
            guard.fd = -1
            return guard.fired

    def _next_expired(self) -> _Guard:
        with self._lock:
            heap = self._heap
            while True:
                if heap and heap[0][2].fd < 0:
                    heapq.heappop(heap)
                elif not heap:
                    self._wake.wait()
                elif (left := heap[0][0] - time.monotonic()) > 0:
                    self._wake.wait(min(left, 3600.0))
                else:
                    guard = heapq.heappop(heap)[2]
                    _shutdown(guard.fd)  # still armed, so fd is still that connection's
                    guard.fd, guard.fired = -1, True
                    return guard

    def _run(self) -> None:
        while True:
            guard = self._next_expired()
            log.warning("database %s passed the %g s client deadline (the server does not "
                        "answer); its connection was shut down", _describe(guard.what),
                        guard.seconds)
            try:
                if guard.on_fire is not None:
                    guard.on_fire()
            except Exception:  # the watchdog must live on
                log.exception("counting a client deadline failed")


def _shutdown(fd: int) -> None:
    try:
        dup = os.dup(fd)
        try:
            sock = socket.socket(fileno=dup)
        except OSError:
            os.close(dup)
            raise
        with sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError as exc:  # already disconnected: the call fails on its own
        log.debug("shutting down a database socket: %s", exc)


_WATCHDOG: Watchdog | None = None
_CREATING = threading.Lock()


def _forget_watchdog() -> None:  # a forked child has no watchdog thread, and maybe a held lock
    global _WATCHDOG, _CREATING
    _WATCHDOG, _CREATING = None, threading.Lock()


def watchdog() -> Watchdog:
    """This process's watchdog (created on first use)."""
    global _WATCHDOG
    if _WATCHDOG is None:
        with _CREATING:
            if _WATCHDOG is None:
                os.register_at_fork(after_in_child=_forget_watchdog)
                _WATCHDOG = Watchdog()
    return _WATCHDOG


def _describe(what: str) -> str:
    """``ping``, ``commit``, ``rollback``, or a statement's first words."""
    words = what.split()
    more = " …" if len(words) > 4 else ""
    return f"statement '{' '.join(words[:4])[:80]}{more}'" if len(words) > 1 else what


def _guarded(call: Callable, name: str, seconds: float, active: Callable[[], bool], on_fire):
    on_cursor = GUARDED[name]

    def guarded(target, *args, **kwargs):
        if not active():
            return call(target, *args, **kwargs)
        raw = target.connection if on_cursor else getattr(target, "dbapi_connection", target)
        try:
            fd = raw.fileno()
        except Exception:  # already closed: the call fails by itself
            return call(target, *args, **kwargs)
        what = args[0] if on_cursor else name[3:]  # described only if it fires
        guard = (dog := watchdog()).arm(fd, seconds, what, on_fire)
        try:
            result = call(target, *args, **kwargs)
        finally:
            fired = dog.disarm(guard)
        if fired:  # shot as it returned: close it here, its owner's thread, so it is discarded
            import psycopg

            raw.close()
            raise psycopg.OperationalError(
                f"database {_describe(what)} passed the {seconds:g} s client deadline")
        return result

    return guarded


def client_deadline(engine: Engine, seconds: float, active: Callable[[], bool],
                    on_fire: Callable[[], None] | None = None) -> None:
    """On PostgreSQL, bound every DBAPI call made while ``active()`` to ``seconds`` (0: off).

    Connecting during a request gets ``connect_timeout`` = ``seconds`` too (libpq's minimum is
    2 s). ``on_fire`` is called, from the watchdog thread, each time a deadline fires.
    """
    dialect = engine.dialect
    if dialect.name != "postgresql" or not 0 < seconds < math.inf:
        return
    for name in GUARDED:  # this engine's own dialect instance; the class is left alone
        setattr(dialect, name, _guarded(getattr(dialect, name), name, seconds, active, on_fire))
    limit = max(2, math.ceil(seconds))

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        current = float(cparams.get("connect_timeout") or 0)
        if active() and not 0 < current <= limit:  # cparams is shared: never changed in place
            return dialect.connect(*cargs, **{**cparams, "connect_timeout": limit})
        return None
