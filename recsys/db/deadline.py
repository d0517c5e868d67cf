"""A client-side deadline for the database work of web requests on PostgreSQL.

``statement_timeout`` is enforced by the server, and TCP keepalives by the kernels: a server that
is frozen (a stopped process, a storage hang) while its kernel still acknowledges packets
answers neither, and a request waiting for it would hold its server thread forever. Here each
DBAPI call made while ``active()`` (a statement, pre-ping, commit, rollback) is registered with
one watchdog thread per process; when a call outlives its deadline, the watchdog shuts the
connection's socket down (``shutdown(2)`` on a duplicate of its descriptor, which frees nothing
of libpq's from the wrong thread). The waiting thread then gets a broken connection error,
SQLAlchemy discards the connection from its pool, and the request answers the usual 503.
:mod:`recsys.db.breaker` then keeps the next requests from waiting for the same frozen server
(and bounds how many wait at once).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, event

from recsys.db.breaker import RefusedError, RequestBreaker

log = logging.getLogger("recsys.db")

#: The dialect's DBAPI calls that wait for the server (no event wraps them whole): whether the
#: first argument is a cursor (else a connection).
GUARDED = {"do_execute": True, "do_execute_no_params": True, "do_executemany": True,
           "do_ping": False, "do_commit": False, "do_rollback": False}


class _Slot:
    """A thread's call in flight: the socket to shut down (``fd`` -1 when none), and when."""

    __slots__ = ("fd", "due", "seconds", "what", "on_fire", "fired", "__weakref__")

    def __init__(self) -> None:
        self.fd, self.fired = -1, False


class Watchdog:
    """The calls in flight in this process (a reusable slot per thread: nothing is allocated
    per call) and the thread that shuts down the sockets of those past their deadline.

    Disarming and firing take the same lock, and a slot fires only while armed: a call that
    returns exactly at its deadline either was shot (and learns it from :meth:`disarm`) or is
    disarmed first, so the connection, pooled again, is never shot later.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._slots: weakref.WeakSet[_Slot] = weakref.WeakSet()  # a dead thread's slot leaves
        self._mine = threading.local()
        self._thread: threading.Thread | None = None
        self._until = math.inf  # when the watchdog wakes next, at the latest

    def arm(self, fd: int, seconds: float, what: str, on_fire=None) -> _Slot:
        """Shut ``fd`` down unless :meth:`disarm` is called within ``seconds``."""
        slot = getattr(self._mine, "slot", None)
        if slot is None or slot.fd >= 0:  # this thread's first call, or a nested one
            slot = self._new_slot()
        due = time.monotonic() + seconds
        with self._lock:
            slot.fd, slot.due, slot.seconds, slot.what = fd, due, seconds, what
            slot.on_fire, slot.fired = on_fire, False
            if due < self._until:  # the watchdog would sleep past it
                self._until = due
                self._wake.notify()
        return slot

    def _new_slot(self) -> _Slot:
        slot = _Slot()
        if getattr(self._mine, "slot", None) is None:
            self._mine.slot = slot
        with self._lock:
            self._slots.add(slot)
            if self._thread is None:  # started on first use, never at import
                self._thread = threading.Thread(target=self._run, name="recsys-db-deadline",
                                                daemon=True)
                self._thread.start()
        return slot

    def disarm(self, slot: _Slot) -> bool:
        """End ``slot``'s call; whether it was shot (then its connection is unusable)."""
        with self._lock:
            slot.fd = -1
            return slot.fired

    def _expired(self) -> list[tuple[str, float, Callable | None]]:
        """Wait for calls past their deadline; shoot them (holding the lock: still armed, so
        each fd is still that connection's)."""
        with self._lock:
            while True:
                now, shot = time.monotonic(), []
                self._until = until = self._shoot(now, shot)
                if shot:
                    return shot
                self._wake.wait(None if until == math.inf else min(until - now, 3600.0))

    def _shoot(self, now: float, shot: list) -> float:
        """Shoot the calls due by ``now`` (into ``shot``); the next deadline of the others."""
        until = math.inf
        for slot in self._slots:
            if slot.fd < 0:
                continue
            if slot.due > now:
                until = min(until, slot.due)
                continue
            _shutdown(slot.fd)
            slot.fd, slot.fired = -1, True
            shot.append((slot.what, slot.seconds, slot.on_fire))
        return until

    def _run(self) -> None:
        while True:
            for what, seconds, on_fire in self._expired():
                log.warning("database %s passed the %g s client deadline (the server does "
                            "not answer); its connection was shut down", _describe(what),
                            seconds)
                try:
                    if on_fire is not None:
                        on_fire()
                except Exception:  # the watchdog must live on
                    log.exception("counting a client deadline failed")


def _shutdown(fd: int) -> None:
    try:  # a duplicate of a socket's descriptor (libpq's is always one), closed at once
        with socket.socket(fileno=os.dup(fd)) as sock:
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


def _refused(exc: RefusedError):
    import psycopg

    return psycopg.OperationalError(str(exc))


def _guarded(call: Callable, name: str, seconds: float, active: Callable[[], bool], on_fire,
             breaker: RequestBreaker | None = None):
    on_cursor = GUARDED[name]
    breaker = breaker or RequestBreaker(seconds)

    def guarded(target, *args, **kwargs):
        if not active():
            return call(target, *args, **kwargs)
        raw = target.connection if on_cursor else getattr(target, "dbapi_connection", target)
        try:
            fd = raw.fileno()
        except Exception:  # already closed: the call fails by itself
            return call(target, *args, **kwargs)
        try:
            probe = breaker.enter()
        except RefusedError as exc:
            raise _refused(exc) from None
        what = args[0] if on_cursor else name[3:]  # described only if it fires
        guard = (dog := watchdog()).arm(fd, seconds, what, on_fire)
        fired = False
        try:
            result = call(target, *args, **kwargs)
        finally:
            fired = dog.disarm(guard)
            breaker.leave(probe, fired)
        if fired:  # shot as it returned: close it here, its owner's thread, so it is discarded
            import psycopg

            raw.close()
            raise psycopg.OperationalError(
                f"database {_describe(what)} passed the {seconds:g} s client deadline")
        return result

    return guarded


_SERVING = threading.local()


@contextmanager
def serving() -> Iterator[None]:
    """Database calls of this block count as a web request's (deadline, breaker, slots) in a
    thread that serves requests without being one, e.g. the hidden-songs watcher: on a frozen
    server it keeps its last known set instead of waiting for the server forever."""
    _SERVING.on = True
    try:
        yield
    finally:
        _SERVING.on = False


def client_deadline(engine: Engine, seconds: float, active: Callable[[], bool],
                    on_fire: Callable[[], None] | None = None, slots: int = 0) -> None:
    """On PostgreSQL, bound every DBAPI call made while ``active()`` to ``seconds`` (0: off).

    Connecting during a request gets ``connect_timeout`` = ``seconds`` too (libpq's minimum is
    2 s). ``on_fire`` is called, from the watchdog thread, each time a deadline fires. A
    :class:`~recsys.db.breaker.RequestBreaker` then fails the calls of requests at once for
    ``seconds`` and drops the pooled connections; ``slots`` (0: no cap) bounds the calls of
    requests waiting for the database at once.
    """
    dialect = engine.dialect
    if dialect.name != "postgresql" or not 0 < seconds < math.inf:
        return
    in_request = active

    def active() -> bool:
        return getattr(_SERVING, "on", False) or in_request()

    breaker = RequestBreaker(seconds, slots, on_open=lambda: engine.dispose(close=False))
    for name in GUARDED:  # this engine's own dialect instance; the class is left alone
        setattr(dialect, name, _guarded(getattr(dialect, name), name, seconds, active, on_fire,
                                        breaker))
    limit = max(2, math.ceil(seconds))

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, _record, cargs, cparams):
        if not active():
            return None
        try:
            probe = breaker.enter()
        except RefusedError as exc:
            raise _refused(exc) from None
        current = float(cparams.get("connect_timeout") or 0)
        params = cparams if 0 < current <= limit else {**cparams, "connect_timeout": limit}
        started, timed_out = time.monotonic(), False
        try:  # cparams is shared: never changed in place
            return dialect.connect(*cargs, **params)
        except Exception:
            timed_out = time.monotonic() - started >= float(params["connect_timeout"]) - 0.5
            raise
        finally:
            breaker.leave(probe, timed_out)
