"""The circuit breaker and slots of web requests' database calls (``recsys.db.breaker``)."""

from __future__ import annotations

import threading
import time

import pytest

from recsys.db.breaker import RefusedError, RequestBreaker


def test_a_cut_off_call_opens_it_then_one_probe_decides():
    opened = []
    breaker = RequestBreaker(cooldown=0.2, on_open=lambda: opened.append(1))
    assert breaker.enter() is False  # closed: calls go through, none is a probe
    breaker.leave(False, timed_out=False)
    assert not breaker.is_open and opened == []
    breaker.leave(breaker.enter(), timed_out=True)  # cut off at the deadline
    assert breaker.is_open and opened == [1]  # the pool is dropped once
    with pytest.raises(RefusedError, match="not waiting for it again"):
        breaker.enter()  # during the cooldown: at once
    time.sleep(0.25)
    assert breaker.enter() is True  # the probe
    with pytest.raises(RefusedError):
        breaker.enter()  # the others still fail while it probes
    breaker.leave(True, timed_out=True)  # still frozen: open again
    assert breaker.is_open and opened == [1]  # re-opened, not a new opening
    time.sleep(0.25)
    assert breaker.enter() is True
    breaker.leave(True, timed_out=False)  # it answers: closed
    assert not breaker.is_open and breaker.enter() is False


def test_slots_bound_the_calls_waiting_at_once():
    breaker = RequestBreaker(cooldown=1, slots=2, wait=0.1)
    breaker.enter(), breaker.enter()
    started = time.monotonic()
    with pytest.raises(RefusedError, match="all 2 database slots"):
        breaker.enter()
    assert 0.09 < time.monotonic() - started < 0.5  # waited for a slot, briefly
    freed = threading.Timer(0.05, lambda: breaker.leave(False, False))
    freed.start()
    assert breaker.enter() is False  # a slot freed within the wait
    freed.join()


def test_a_refused_probe_lets_the_next_call_probe():
    breaker = RequestBreaker(cooldown=0.05, slots=1, wait=0.05)
    breaker.enter()  # the only slot, held
    breaker._open_until = time.monotonic() - 1  # opened by another call, cooldown over
    with pytest.raises(RefusedError, match="slots"):
        breaker.enter()  # it would probe, but no slot is free
    breaker.leave(False, timed_out=False)  # the held call answers: closed
    assert breaker.enter() is False
