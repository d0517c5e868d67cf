"""Which model each server worker serves: one small status file per worker.

Every gunicorn worker loads and swaps its model on its own (:class:`ModelHolder`), so right
after a promotion some workers may still serve the old version, and a worker that failed to
load a bundle keeps serving its previous one. A dashboard request reaches one worker and only
knows that worker's model. Each worker's model watcher therefore writes
``<model dir>/workers/<host>-<pid>.json`` (version, load error, time) on every check; the
dashboard reads the files that are fresh. Files are replaced atomically (write, then rename),
and a worker that exits leaves a file that simply goes stale. A store that disappears under a
running worker (moved away) is not recreated by it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("recsys.recommend")

#: Status files older than this are removed by the next worker that writes its own.
FORGET_AFTER_S = 24 * 3600


def workers_dir(model_dir: str | Path) -> Path:
    """Directory of the status files of a model store."""
    return Path(model_dir) / "workers"


class Beacon:
    """Writes this process's serving status for the dashboard."""

    def __init__(self, directory: str | Path, name: str | None = None) -> None:
        self.directory = Path(directory)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.path = self.directory / f"{self.name}.json"
        self._failing = False
        self._written = False  # a first write creates the store too (a fresh install)

    def beat(self, version: str | None, error: str | None = None,
             loaded_at: float | None = None, loading: str | None = None) -> None:
        """Record the served ``version`` (and the one being ``loading``, if any) now; never
        raises (status is best effort)."""
        status = {"worker": self.name, "pid": os.getpid(), "version": version,
                  "loaded_at": loaded_at, "loading": loading, "error": error,
                  "seen_at": time.time()}
        tmp = self.directory / f".{self.name}-{uuid.uuid4().hex}.tmp"
        try:
            # once written, never recreate a store moved away under a running server (an
            # operator's ``mv models-old models`` would then nest it instead of restoring it)
            self.directory.mkdir(parents=not self._written, exist_ok=True)
            tmp.write_text(json.dumps(status), encoding="utf-8")
            os.replace(tmp, self.path)
            self._forget_old()
        except OSError as exc:
            with contextlib.suppress(OSError):  # e.g. a full disk: no empty file per check
                tmp.unlink(missing_ok=True)
            if not self._failing:  # once, not at every check; again after a success
                log.warning("could not write the worker status file %s: %s", self.path, exc)
            self._failing = True
        else:
            self._failing, self._written = False, True

    def remove(self) -> None:
        """Delete this worker's file (on a clean exit)."""
        self.path.unlink(missing_ok=True)

    def _forget_old(self) -> None:
        cutoff = time.time() - FORGET_AFTER_S
        for path in self.directory.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            except OSError:
                continue


def read_workers(directory: str | Path, max_age_s: float) -> list[dict[str, Any]]:
    """Status of every worker seen in the last ``max_age_s`` seconds, by worker name.

    Each entry is the worker's status plus ``age_s`` (seconds since it last wrote).
    Unreadable or half-written files are skipped.
    """
    directory, now, found = Path(directory), time.time(), []
    if not directory.is_dir():
        return []
    for path in sorted(directory.glob("*.json")):
        try:
            status = json.loads(path.read_text(encoding="utf-8"))
            age = now - float(status["seen_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if age <= max_age_s:
            found.append({**status, "age_s": max(age, 0.0)})
    return found
