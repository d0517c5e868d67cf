"""Which database a server serves, to refuse a bundle trained from another one.

A bundle's manifest names the installation (migration 0009) whose songs it was trained on; a
server started on another database's model store would answer with another catalog's song
ids. The server's own id is read from its database, but never on a request's critical path
beyond a short wait: a frozen or unreachable database must not delay answers from the model.
The read runs in a thread of its own; a load waits for it at most ``wait_s`` (a healthy
database answers in milliseconds) and otherwise goes on unchecked, and whoever learns the id
later (that thread, or the holder's watcher retrying every poll) re-checks the served model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from recsys.index.bundle import BundleError

log = logging.getLogger("recsys.recommend")

#: Longest wait of a load for the database's installation id.
READ_WAIT_S = 0.25


class InstallationCheck:
    """The database's installation id, read once it can be, and the check of a manifest."""

    def __init__(self, source: Callable[[], str] | None, wait_s: float = READ_WAIT_S) -> None:
        self.source = source
        self.wait_s = wait_s
        self.known: str | None = None
        #: Called with the id once it is known (the holder re-checks its served model).
        self.on_known: Callable[[str], None] | None = None
        self._reader: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False

    def read(self, wait_s: float | None = None) -> str | None:
        """The id, reading it in a thread if unknown and waiting at most ``wait_s`` for it
        (default :attr:`wait_s`; None back while the database does not answer)."""
        if self.known is not None or self.source is None:
            return self.known
        with self._lock:
            if self._reader is None or not self._reader.is_alive():
                self._reader = threading.Thread(target=self._read, daemon=True,
                                                name="installation-id")
                self._reader.start()
            reader = self._reader
        reader.join(self.wait_s if wait_s is None else wait_s)
        return self.known

    def _read(self) -> None:
        try:
            value = str(self.source())
        except Exception as exc:  # database down or not migrated: read again later
            if not self._failing:
                log.warning("reading the database's installation id failed, models are "
                            "served unchecked until it can be read: %s",
                            str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)
            self._failing = True
            return
        self._failing = False
        self.known = value
        if self.on_known is not None:
            self.on_known(value)

    def problem(self, manifest: dict) -> str | None:
        """Why a bundle with ``manifest`` must not be served here (None: it may be, also when
        the id is still unknown or the bundle, from older code, names no installation)."""
        theirs = manifest.get("installation_id")
        if self.known is None or theirs is None or theirs == self.known:
            return None
        return (f"it was trained from another database (installation {theirs}; this database "
                f"is {self.known}): its song ids are another catalog's; give this database a "
                "model store of its own (RECSYS_VAR_DIR or RECSYS_MODEL_DIR)")

    def check(self, manifest: dict, wait_s: float | None = None) -> None:
        """Raise a :class:`BundleError` for a bundle of another database (reads the id first,
        waiting at most ``wait_s``)."""
        self.read(wait_s)
        reason = self.problem(manifest)
        if reason is not None:
            raise BundleError(reason)
