"""The job lock of a model store (``retrain.lock``): one nightly run, training or backup at a
time. The OS releases it when the holder dies; the holder's name, pid and start time are
written into the file so that a refused or waiting job can say who is in its way."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recsys.db.base import utcnow
from recsys.ingest.model import printable

log = logging.getLogger("recsys.jobs")


class JobLockedError(RuntimeError):
    """Another job (a retraining run, a training, a backup) holds the lock."""


def _holder(fh) -> str:
    """What the lock file says of the job holding it (written when it took the lock)."""
    fh.seek(0)
    text = printable(fh.read(200).strip())
    return f" ({text})" if text else ""


@contextmanager
def job_lock(path: Path, wait_s: float = 0.0, holder: str = "a job") -> Iterator[None]:
    """Exclusive lock, released by the OS even if the process dies; waits up to ``wait_s``
    seconds for the run holding it (none by default: a second run is refused at once).
    ``holder`` (``retrain``, ``train``, ``backup``) goes into the file with the pid and the
    time, so that a refused or waiting job names the one in its way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    with path.open("a+") as fh:  # not "w": a waiting job must not wipe the holder's line
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise JobLockedError(f"another job holds {path}"
                                         f"{_holder(fh)}") from exc
                log.info("waiting for the job holding %s%s", path, _holder(fh))
                time.sleep(1.0)
        line = f"{holder}, pid {os.getpid()}, since {utcnow():%Y-%m-%d %H:%M:%S} UTC\n"
        with contextlib.suppress(OSError):  # only a diagnostic: a full disk must not stop
            os.ftruncate(fh.fileno(), 0)  # the job (unbuffered: nothing left to flush later)
            os.write(fh.fileno(), line.encode())
        yield
