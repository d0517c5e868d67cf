"""Per-process holder of the served model, swapped atomically when ``current`` changes.

Requests call :meth:`ModelHolder.get`. At most every ``poll_seconds`` it compares the store's
``current`` link with the loaded version; a change starts a background load while requests
keep using the old model. When the new model is ready, one reference assignment swaps it in:
in-flight requests finish on the model object they already hold. A version that fails to load
is logged and skipped; the old model keeps serving. A server also runs :meth:`watch`, so that
idle workers switch too (and every worker within ``poll_seconds`` of a promotion); with a
:class:`~recsys.recommend.beacon.Beacon` it also records, at every check, which version it serves.
"""

from __future__ import annotations

import logging
import threading
import time

from recsys.index.bundle import BundleError
from recsys.index.store import ModelStore
from recsys.recommend.beacon import Beacon
from recsys.recommend.model import ServingModel

log = logging.getLogger("recsys.recommend")


class ModelHolder:
    """Loads the current model of a store once per process and keeps it fresh."""

    def __init__(self, store: ModelStore, poll_seconds: float = 2.0,
                 background: bool = True) -> None:
        self.store = store
        self.poll_seconds = poll_seconds
        self.background = background
        self._model: ServingModel | None = None
        self._version: str | None = None  # store directory of the served model
        self._lock = threading.Lock()
        self._loading: str | None = None
        self._failed: str | None = None
        self._checked = 0.0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self.loaded_at: float | None = None  # wall-clock time of the last swap
        #: Where :meth:`watch` reports the served version (None: nowhere).
        self.beacon: Beacon | None = None
        self._watcher: threading.Thread | None = None

    @property
    def model(self) -> ServingModel | None:
        """The model currently served (no freshness check)."""
        return self._model

    def get(self) -> ServingModel | None:
        """The served model, after a (rate-limited) check for a newly promoted version."""
        now = time.monotonic()
        if self._model is None or now - self._checked >= self.poll_seconds:
            self._checked = now
            self.refresh(wait=self._model is None or not self.background)
        return self._model

    def watch(self) -> threading.Thread | None:
        """Check for a promoted version every ``poll_seconds`` in a daemon thread, without
        waiting for a request (no thread when polling is off)."""
        if self.poll_seconds <= 0:
            return None

        def loop() -> None:
            self.report()
            while not self._stop.wait(self.poll_seconds):
                try:
                    self._checked = time.monotonic()
                    self.refresh(wait=True)  # this thread may block; requests never do
                except Exception:  # a transient store error must not end the watcher
                    log.exception("checking for a promoted model failed")
                self.report()

        thread = threading.Thread(target=loop, daemon=True, name="model-watcher")
        thread.start()
        self._watcher = thread
        return thread

    def report(self, loading: str | None = None) -> None:
        """Write the served version (and one being ``loading``) to the beacon, if any."""
        if self.beacon is not None and not self._stop.is_set():
            self.beacon.beat(self._version, self.last_error, self.loaded_at, loading)

    def stop(self, wait_s: float = 0.0) -> None:
        """End the :meth:`watch` thread (it finishes its current check first; wait up to
        ``wait_s`` for that)."""
        self._stop.set()
        if wait_s and self._watcher is not None:
            self._watcher.join(wait_s)

    def refresh(self, wait: bool = True) -> None:
        """Load the store's current version if it differs from the served one."""
        target = self.store.current_version()
        if target is None or target == self._version or target == self._failed:
            return
        with self._lock:
            if self._loading == target:
                return
            self._loading = target
        if wait:
            self._load(target)
        else:
            threading.Thread(target=self._load, args=(target,), daemon=True,
                             name=f"load-model-{target}").start()

    def _load(self, version: str) -> None:
        started = time.perf_counter()
        self.report(loading=version)  # a slow load still shows on the dashboard
        try:
            model = ServingModel.open(self.store.path(version))
        except (BundleError, OSError, ValueError) as exc:
            self._failed = version
            self.last_error = f"model {version} could not be loaded: {exc}"
            log.error("%s; still serving %s", self.last_error,
                      self._model.version if self._model else "nothing")
            return
        finally:
            with self._lock:
                self._loading = None
        self._model = model  # atomic swap of one reference
        self._version = version
        self.loaded_at = time.time()
        self._failed = None
        self.last_error = None
        log.info("serving model %s (%d songs, loaded in %.2fs)", version, len(model),
                 time.perf_counter() - started)
