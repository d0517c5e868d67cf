"""The model store: ``versions/<version>/`` bundles and an atomically switched ``current`` link.

The ``current`` symlink is the single source of truth for what production serves; it is
replaced with ``os.replace`` (an atomic rename), so readers see either the old or the new
version, never a missing or half-written one. A crash before the rename leaves the previous
version current.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsys.index import owner as _owner
from recsys.index.bundle import MANIFEST, Bundle, BundleError, BundleWriter

VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Manifest key numbering the store's bundles in the order they were committed (1, 2, ...):
#: "newest" without the wall clock, which may go backwards (a clock reset, NTP, a restored VM).
SEQUENCE_KEY = "store_sequence"
#: Manifest key listing the bundles without a number (written by older code, e.g. during a
#: rolling upgrade) that were committed when this one was: they are older than it.
UNSEQUENCED_KEY = "store_unsequenced"


def new_version_name(now: datetime | None = None) -> str:
    """Sortable, unique version name, e.g. ``20261126T143000123456Z-1a2b3c``: microseconds, so
    bundles made within one second sort by creation. Only bundles written before the store
    numbered them (:data:`SEQUENCE_KEY`) are ordered by name."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:6]}"


class _SequencedWriter(BundleWriter):
    """A bundle writer whose commit numbers the bundle after every committed one."""

    def __init__(self, store: ModelStore, version: str) -> None:
        super().__init__(store.versions_dir, version)
        self._store = store

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Commit with the next sequence number (a lock makes concurrent commits take turns).
        A store bound to a database (:meth:`ModelStore.bind`) checks its owner again first
        (adopted by another database meanwhile: refused, nothing committed) and records the
        installation id in the manifest."""
        with (self._store.root / "sequence.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            installation = self._store.installation
            if installation is not None:
                self._store.bind(installation)
                manifest = {**manifest, _owner.INSTALLATION_KEY: installation}
            entries = self._store._entries()
            last = max((e.number for e in entries if e.number is not None), default=0)
            older = sorted(e.version for e in entries if e.number is None and e.readable)
            return super().commit({**manifest, SEQUENCE_KEY: last + 1, UNSEQUENCED_KEY: older})


@dataclass(frozen=True)
class _Entry:
    """What ordering needs of one committed bundle's manifest."""

    version: str
    readable: bool
    number: int | None = None  # SEQUENCE_KEY
    listed: frozenset[str] | None = None  # UNSEQUENCED_KEY (None: not recorded)
    written: float = 0.0  # the manifest's mtime (the writer's clock)

    def saw(self, other: _Entry) -> bool:
        """Whether this numbered bundle was committed after the unnumbered ``other``: it lists
        it, or, written by code that listed nothing, its clock says so."""
        if self.listed is not None:
            return other.version in self.listed
        return other.written < self.written


class ModelStore:
    """Directory of model bundles (``RECSYS_MODEL_DIR``)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"
        self.current_link = self.root / "current"
        #: The installation id of the database this store writes for (set by :meth:`bind`).
        self.installation: str | None = None

    def owner(self) -> str | None:
        """The installation id of the database the store belongs to (None: not bound yet)."""
        record = _owner.read_owner(self.root)
        return None if record is None else record[_owner.INSTALLATION_KEY]

    def bind(self, installation: str, write: bool = True) -> None:
        """Write for the database ``installation`` from now on: refused
        (:class:`~recsys.index.owner.StoreOwnedError`, nothing written) when the store belongs
        to another one; a store that belongs to none is bound to it (not with ``write``
        false: a dry run checks only)."""
        _owner.check(self.root, installation, write=write)
        self.installation = installation

    def adopt(self, installation: str) -> str | None:
        """Bind the store to ``installation`` whoever owned it (an operator's explicit
        decision); returns the previous owner's id."""
        with self.switch_lock():
            previous = _owner.adopt(self.root, installation)
        self.installation = installation
        return None if previous is None else previous.get(_owner.INSTALLATION_KEY)

    def without_paths(self, message: object) -> str:
        """``message`` with the store's directory written as "the model store": for pages and
        API answers (the server's directories stay in its log)."""
        if isinstance(message, _owner.StoreOwnedError):
            return message.describe(with_path=False)
        text = str(message)
        for root in {str(self.root.resolve()), str(self.root)}:
            text = text.replace(root, "the model store")
        return text

    def check_version(self, version: str) -> str:
        if not VERSION_RE.match(version or ""):
            raise BundleError(f"invalid model version name {version!r}")
        return version

    def writer(self, version: str | None = None) -> BundleWriter:
        """A writer for a new bundle (committed with ``writer.commit(manifest)``, which numbers
        it after the store's other bundles)."""
        return _SequencedWriter(self, self.check_version(version or new_version_name()))

    def _committed(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return [p.name for p in self.versions_dir.iterdir()
                if not p.name.startswith(".") and (p / MANIFEST).is_file()]

    def _entry(self, version: str) -> _Entry:
        manifest = self.versions_dir / version / MANIFEST
        try:
            doc = json.loads(manifest.read_text())
            written = manifest.stat().st_mtime
        except (OSError, ValueError):
            return _Entry(version, readable=False)
        if not isinstance(doc, dict):
            return _Entry(version, readable=False)
        number, listed = doc.get(SEQUENCE_KEY), doc.get(UNSEQUENCED_KEY)
        if not isinstance(number, int) or isinstance(number, bool):
            number = None
        if not isinstance(listed, list):
            listed = None
        return _Entry(version, True, number,
                      None if listed is None else frozenset(map(str, listed)), written)

    def _entries(self) -> list[_Entry]:
        return [self._entry(v) for v in self._committed()]

    def sequence(self, version: str) -> int | None:
        """The bundle's commit number (None: written by older code, or unreadable)."""
        return self._entry(version).number

    def versions(self) -> list[str]:
        """Committed versions, oldest first (temporary directories are ignored).

        Numbered bundles are ordered by commit number, not by the clock. A bundle without a
        number (older code, e.g. a process not yet upgraded) goes just before the first
        numbered bundle committed after it: one that lists it (:data:`UNSEQUENCED_KEY`), or,
        for a numbered bundle of code that listed nothing, one whose manifest is younger by
        the clock (the only evidence left). Without such a bundle it is the newest. So it
        sorts as late as the evidence allows: ``prune`` keeps it rather than delete a bundle
        written after the kept ones. Unnumbered bundles in one place are ordered by name
        (older code named them by creation time); unreadable manifests come first.
        """
        entries = self._entries()
        numbered = [e for e in entries if e.number is not None]

        def key(entry: _Entry) -> tuple[int, float, int, str]:
            if entry.number is not None:
                return (1, entry.number, 1, entry.version)
            if not entry.readable:
                return (0, 0, 0, entry.version)
            later = (n.number for n in numbered if n.saw(entry))
            return (1, min(later, default=math.inf), 0, entry.version)

        return [e.version for e in sorted(entries, key=key)]

    def path(self, version: str) -> Path:
        path = self.versions_dir / self.check_version(version)
        if not (path / MANIFEST).is_file():
            raise BundleError(f"unknown model version {version!r} in {self.versions_dir}")
        return path

    def open(self, version: str, verify: bool = True) -> Bundle:
        return Bundle.open(self.path(version), verify=verify)

    def current_version(self) -> str | None:
        """Version the ``current`` link points at, or None."""
        try:
            target = os.readlink(self.current_link)
        except (FileNotFoundError, OSError):
            return None
        return Path(target).name

    def set_current(self, version: str) -> None:
        """Point ``current`` at ``version`` atomically (the bundle must exist)."""
        self.path(version)
        tmp = self.root / f".current-{uuid.uuid4().hex}"
        os.symlink(Path("versions") / version, tmp)
        os.replace(tmp, self.current_link)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def switch_lock(self) -> Iterator[None]:
        """Serialise switches of ``current`` and their history (waits; switches are short)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / "switch.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def remove(self, version: str) -> None:
        """Delete a bundle that is not current: renamed away first (one atomic step, so a crash
        never leaves half a bundle that looks committed), then deleted."""
        if version == self.current_version():
            raise BundleError(f"version {version} is current; promote another one first")
        doomed = self.versions_dir / f".tmp-removed-{version}"
        os.replace(self.path(version), doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def clean_temporary(self, min_age_s: float = 60.0) -> int:
        """Remove leftovers of crashed writes; returns how many were removed: unfinished
        bundle directories, and ``current`` links never renamed into place (only those older
        than ``min_age_s``: a promotion may be making one right now)."""
        removed = 0
        if self.versions_dir.is_dir():
            for path in self.versions_dir.iterdir():
                if path.name.startswith(".tmp-"):
                    shutil.rmtree(path, ignore_errors=True)
                    removed += 1
        if self.root.is_dir():
            for path in self.root.glob(".current-*"):
                if time.time() - path.lstat().st_mtime >= min_age_s:
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed
