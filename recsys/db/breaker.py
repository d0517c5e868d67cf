"""Keep a frozen database from taking every server thread: a circuit breaker and a cap on the
database calls of web requests in flight, per process (used by :mod:`recsys.db.deadline`).

The client deadline cuts a call off after ``seconds``, but a frozen server would still hold
each request that reaches it for that long, and requests that need the database (a search, a
song page, a cold-start fallback) would fill every thread of a gunicorn worker, so answers
from the loaded model, which need no database, would wait behind them.

* **Breaker.** Once a call of a request is cut off (or a connection attempt times out), the
  breaker opens: for ``cooldown`` seconds the database calls and connection attempts of
  requests fail at once (the usual 503) instead of waiting, and the engine's pooled
  connections, likely all stuck on the frozen server, are dropped. Then one call goes through
  as a probe: if it succeeds the breaker closes, if it is cut off again the breaker re-opens.
* **Slots.** At most ``slots`` calls of requests wait for the database at once (``serve`` sets
  the worker's threads minus one); another waits ``wait`` seconds for a free slot, then fails:
  one thread is always left for the model's answers.

Calls outside requests (CLI, jobs, background threads) are never gated.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("recsys.db")


class RefusedError(Exception):
    """A call the breaker or the slots turned away (the caller raises its driver's error)."""


class RequestBreaker:
    """The breaker and the slots of one engine, in one process."""

    def __init__(self, cooldown: float, slots: int = 0, wait: float = 0.25,
                 on_open: Callable[[], None] | None = None) -> None:
        self.cooldown, self.wait, self.on_open = cooldown, wait, on_open
        self.slots = slots
        self._free = threading.BoundedSemaphore(slots) if slots > 0 else None
        self._lock = threading.Lock()
        self._open_until = 0.0  # 0: closed
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open_until > 0

    def enter(self) -> bool:
        """Admit one call; whether it is the probe of an open breaker.

        Raises:
            RefusedError: the breaker is open (and another call probes, or the cooldown runs), or
                every slot stayed taken for ``wait`` seconds.
        """
        probe = False
        if self._open_until:
            with self._lock:
                if self._open_until:
                    left = self._open_until - time.monotonic()
                    if left > 0 or self._probing:
                        raise RefusedError(f"the database did not answer in time moments ago; "
                                      f"not waiting for it again for {max(left, 0):.1f} s")
                    self._probing = probe = True
        if self._free is not None and not self._free.acquire(timeout=self.wait):
            if probe:
                with self._lock:
                    self._probing = False
            raise RefusedError(f"all {self.slots} database slots of this server process are "
                          f"waiting for the database")
        return probe

    def leave(self, probe: bool, timed_out: bool) -> None:
        """End an admitted call: ``timed_out`` (cut off, or a connection attempt that timed
        out) opens the breaker; a probe that answered closes it."""
        if self._free is not None:
            self._free.release()
        if not (timed_out or probe or self._open_until):
            return
        opened = False
        with self._lock:
            if probe:
                self._probing = False
            if timed_out:
                opened = not self._open_until
                self._open_until = time.monotonic() + self.cooldown
            elif self._open_until and not self._probing:  # a call answered: it is back
                self._open_until = 0.0
                log.info("database answers again: calls of requests go through")
        if opened:
            log.warning("database did not answer within the client deadline: requests fail "
                        "at once for %g s, then one probes it", self.cooldown)
            if self.on_open is not None:
                try:
                    self.on_open()
                except Exception:  # dropping the pool is best effort
                    log.exception("dropping the pooled connections failed")
