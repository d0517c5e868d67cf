"""SIGTERM as an interruption, so that a stopped job cleans up like one stopped with Ctrl-C.

By default SIGTERM (systemd, ``kill``, a scheduler's timeout) ends Python at once: no
``finally``, a training run left ``running`` and an unfinished bundle directory until the next
job's clean-up. Inside :func:`sigterm_raises` it raises :class:`Terminated` in the main thread
instead, which the job's error handling records like any failure.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Exit status of a command stopped by SIGTERM (128 + 15, what the shell reports).
TERMINATED_EXIT = 143


class Terminated(KeyboardInterrupt):  # noqa: N818 - an interruption, like KeyboardInterrupt
    """The process received SIGTERM."""


def _raise(signum: int, _frame: object) -> None:
    raise Terminated(f"stopped by {signal.Signals(signum).name}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (main thread only; elsewhere a
    no-op, since only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
