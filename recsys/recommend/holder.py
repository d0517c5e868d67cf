"""Per-process holder of the served model, swapped atomically when ``current`` changes.

Requests call :meth:`ModelHolder.get`. At most every ``poll_seconds`` it compares the store's
``current`` link with the loaded version; a change starts a background load while requests
keep using the old model. When the new model is ready, one reference assignment swaps it in:
in-flight requests finish on the model object they already hold; a model that is no longer
current when its load ends (a quick rollback) is dropped instead, so versions never go back and
forth. A version that fails to load is logged and the old model keeps serving; it is tried again
as soon as its bundle changes (restored, rewritten) or else after a back-off of ``poll_seconds``
doubling up to a minute (a transient error), so a worker never stays without a model.
A server also runs :meth:`watch`, so that idle workers switch too (and every worker within
``poll_seconds`` of a promotion); with a :class:`~recsys.recommend.beacon.Beacon` it also
records, at every check, which version it serves.

With a ``hidden_source`` (the database's hidden songs, ``songs.available`` false), :meth:`watch`
also reads that set every ``poll_seconds`` in a second thread (a slow database never delays a
promotion) and applies a change to the served model at once, so a takedown needs no new
model; a model loaded later starts with the last set read. When the read fails (database down
or busy) the last known set stays (before any read: the set the bundle recorded).

With an ``installation_source`` (the database's id, migration 0009), a bundle of another
database is refused like a broken one (its song ids are another catalog's); the id is read
off the request path, and a model loaded before it was known is checked once it is
(:mod:`recsys.recommend.installation`).

A process's first model gets its external-id look-up (:meth:`ServingModel.external_ids`,
0.2-0.4 s at 250,000 songs) built in a thread right after its swap; a later model before its
swap, by its loader, when requests used the served model's (docs/benchmarks.md §18).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from recsys.index.bundle import MANIFEST, BundleError
from recsys.index.store import ModelStore
from recsys.recommend.beacon import Beacon
from recsys.recommend.installation import InstallationCheck
from recsys.recommend.model import ServingModel

log = logging.getLogger("recsys.recommend")

#: Longest wait before loading a version that failed again (its bundle unchanged).
RETRY_MAX_S = 60.0


class ModelHolder:
    """Loads the current model of a store once per process and keeps it fresh."""

    def __init__(self, store: ModelStore, poll_seconds: float = 2.0,
                 background: bool = True,
                 hidden_source: Callable[[], Iterable[int]] | None = None,
                 installation_source: Callable[[], str] | None = None) -> None:
        self.store = store
        self.installation = InstallationCheck(installation_source)
        self.installation.on_known = self._installation_known
        self.poll_seconds = poll_seconds
        self.background = background
        self.hidden_source = hidden_source
        self._hidden_ids: frozenset[int] | None = None  # last set read from the source
        self._hidden_failing = False
        self._model: ServingModel | None = None
        self._version: str | None = None  # store directory of the served model
        self._lock = threading.Lock()
        self._loading: str | None = None
        self._failed: str | None = None  # version whose last load failed
        self._failed_at = 0.0
        self._failed_signature: tuple[int, int, int] | None = None
        self._failures = 0  # failed loads of that version in a row
        self._checked = 0.0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self.loaded_at: float | None = None  # wall-clock time of the last swap
        #: Where :meth:`watch` reports the served version (None: nowhere).
        self.beacon: Beacon | None = None
        #: Called with the new model after each swap (the metrics' served version): a worker
        #: that swaps in the background reports it without waiting for a request.
        self.swap_listeners: list[Callable[[ServingModel], None]] = []
        self._watcher: threading.Thread | None = None
        self._hidden_watcher: threading.Thread | None = None
        #: Build the first model's external-id look-up after its swap (the module docstring).
        self.prebuild_external_ids = True
        self.prebuilder: threading.Thread | None = None  # the thread doing it, once started

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
                self.installation.read(wait_s=0)  # until known (database down at start)
                try:
                    self._checked = time.monotonic()
                    self.refresh(wait=True)  # this thread may block; requests never do
                except Exception:  # a transient store error must not end the watcher
                    log.exception("checking for a promoted model failed")
                self.report()

        thread = threading.Thread(target=loop, daemon=True, name="model-watcher")
        thread.start()
        self._watcher = thread
        if self.hidden_source is not None:
            self._hidden_watcher = threading.Thread(target=self._watch_hidden, daemon=True,
                                                    name="hidden-songs-watcher")
            self._hidden_watcher.start()
        return thread

    def _watch_hidden(self) -> None:
        while True:
            self.check_hidden()
            if self._stop.wait(self.poll_seconds):
                return

    def check_hidden(self) -> bool:
        """Read the hidden songs and apply a change to the served model; a failed read keeps
        the last known set (logged once per outage). Returns whether the read succeeded."""
        if self.hidden_source is None:
            return False
        try:
            ids = frozenset(self.hidden_source())
        except Exception as exc:  # database down or busy: keep serving the last known set
            if not self._hidden_failing:
                log.warning("reading the hidden songs failed, keeping the last known set: %s",
                            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            self._hidden_failing = True
            return False
        if self._hidden_failing:
            log.info("reading the hidden songs works again (%d hidden)", len(ids))
        self._hidden_failing = False
        self._hidden_ids = ids
        self._apply_hidden(self._model)
        return True

    def _apply_hidden(self, model: ServingModel | None) -> None:
        ids = self._hidden_ids
        if model is None or ids is None or model.hidden.ids == ids:
            return
        before = len(model.hidden)
        model.set_hidden(ids)
        log.info("model %s: %d songs hidden (was %d)", model.version, len(ids), before)

    def report(self, loading: str | None = None) -> None:
        """Write the served version (and one being ``loading``) to the beacon, if any."""
        if self.beacon is not None and not self._stop.is_set():
            self.beacon.beat(self._version, self.last_error, self.loaded_at, loading)

    def stop(self, wait_s: float = 0.0) -> None:
        """End the :meth:`watch` threads (each finishes its current check first; wait up to
        ``wait_s`` for that)."""
        self._stop.set()
        deadline = time.monotonic() + wait_s
        for thread in (self._watcher, self._hidden_watcher):
            if wait_s and thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))

    def refresh(self, wait: bool = True) -> None:
        """Load the store's current version if it differs from the served one.

        One load at a time: while one runs, a newer promotion waits for the next check (the
        running load is dropped, not swapped in, if it is no longer current when it ends).
        """
        target = self.store.current_version()
        if target is None or target == self._version or not self._may_try(target):
            return
        with self._lock:
            if self._loading is not None:
                return
            self._loading = target
        if wait:
            self._load(target)
        else:
            threading.Thread(target=self._load, args=(target,), daemon=True,
                             name=f"load-model-{target}").start()

    def _may_try(self, version: str) -> bool:
        """Whether to (re)try loading ``version``: yes unless its last load failed, then once
        its bundle changed (restored, replaced) or after a back-off that doubles from
        ``poll_seconds`` to ``RETRY_MAX_S`` (a transient error: too many open files...)."""
        if version != self._failed:
            return True
        if self._signature(version) != self._failed_signature:
            return True
        # the exponent capped: a bundle broken for days must not overflow a float
        wait = min(self.poll_seconds * 2 ** min(self._failures - 1, 30), RETRY_MAX_S)
        return time.monotonic() - self._failed_at >= wait

    def _signature(self, version: str) -> tuple[int, int, int] | None:
        """Identity of a bundle's manifest file (None: missing), to notice a new bundle."""
        try:
            st = (self.store.versions_dir / self.store.check_version(version) / MANIFEST).stat()
        except (OSError, BundleError):
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def _installation_known(self, _installation: str) -> None:
        """Drop the served model if it turns out to be another database's."""
        model = self._model
        reason = None if model is None else self.installation.problem(model.manifest)
        if reason is not None:
            self._refuse(model, reason)

    def _refuse(self, model: ServingModel, reason: str) -> None:
        """Stop serving ``model`` (another database's), retried like a failed load."""
        with self._lock:
            if self._model is not model:
                return
            version, self._model, self._version = self._version, None, None
        self._failures = self._failures + 1 if self._failed == version else 1
        self._failed, self._failed_at = version, time.monotonic()
        self._failed_signature = self._signature(version)
        log.error("model %s is no longer served: %s", version, reason)
        self.last_error = f"model {version} could not be loaded: {reason}"

    def _load(self, version: str) -> None:
        try:
            self._load_and_swap(version)
        finally:  # only now: a later load must not swap in before this one
            with self._lock:
                self._loading = None

    def _load_and_swap(self, version: str) -> None:
        started = time.perf_counter()
        self.report(loading=version)  # a slow load still shows on the dashboard
        signature = self._signature(version)
        try:
            model = ServingModel.open(self.store.path(version))
            self.installation.check(model.manifest)
        except (BundleError, OSError, ValueError) as exc:
            self._failures = self._failures + 1 if self._failed == version else 1
            self._failed, self._failed_at = version, time.monotonic()
            self._failed_signature = signature
            log.error("model %s could not be loaded: %s; still serving %s", version, exc,
                      self._model.version if self._model else "nothing")
            # shown by /api/ready and the dashboard: without the server's directories
            self.last_error = f"model {version} could not be loaded: " + \
                self.store.without_paths(exc)
            return
        first = self._model is None
        if not first and self._model.has_external_ids and self._model.external_ids().used:
            # requests use the served model's look-up: build the new model's now, off the
            # request path, rather than in the first request by external id after the swap
            model.external_ids()
        current = self.store.current_version()
        if current != version:  # promoted and rolled back (or promoted again) meanwhile
            log.info("model %s loaded but %s is current now: not swapped in", version, current)
            return
        self._apply_hidden(model)  # the last set read is newer than the bundle's
        self._model = model  # atomic swap of one reference
        self._apply_hidden(model)  # in case a read landed on the old model meanwhile
        self._version = version
        self.loaded_at = time.time()
        self._failed, self._failures = None, 0
        self.last_error = None
        reason = self.installation.problem(model.manifest)
        if reason is not None:  # the id arrived between the check and the swap
            self._refuse(model, reason)
            return
        log.info("serving model %s (%d songs, loaded in %.2fs)", version, len(model),
                 time.perf_counter() - started)
        for listener in self.swap_listeners:
            try:
                listener(model)
            except Exception:  # a listener must not undo or stop a swap
                log.exception("a swap listener failed after model %s was swapped in", version)
        if first and self.prebuild_external_ids:
            # this load may run in the first request (a worker not warmed): not in its thread
            self.prebuilder = threading.Thread(target=_prebuild, args=(model,), daemon=True,
                                               name=f"external-ids-{version}")
            self.prebuilder.start()


def _prebuild(model: ServingModel) -> None:
    """Build ``model``'s external-id look-up; a failure is logged (a request builds it then)."""
    started = time.perf_counter()
    try:
        model.external_ids()
    except Exception:
        log.exception("building the external-id look-up of model %s failed", model.version)
        return
    log.info("model %s: external-id look-up built in %.2fs", model.version,
             time.perf_counter() - started)
