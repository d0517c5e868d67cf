"""Which database a model store belongs to: ``owner.json`` in the store's root.

Song ids are per database, so a model trained from one database answers another's requests
with the wrong songs. The store records the installation id (migration 0009) of the first
database that writes to it; writes and switches of ``current`` on behalf of another one are
refused (:class:`StoreOwnedError`) before anything is written. A store without the file (empty,
or written by older code) is bound by its first writer; :func:`adopt` rebinds it, on an
operator's explicit request only (``python -m recsys models adopt-store --yes``).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recsys.index.bundle import BundleError

OWNER_FILE = "owner.json"
#: Manifest key of the installation id of the database a bundle was trained from.
INSTALLATION_KEY = "installation_id"
ADOPT_COMMAND = "python -m recsys models adopt-store --yes"


class StoreOwnedError(BundleError):
    """The model store belongs to another database (installation)."""

    def __init__(self, root: Path, owner: dict[str, Any], mine: str) -> None:
        self.root, self.owner, self.mine = root, owner, mine
        super().__init__(self.describe(with_path=True))

    def describe(self, with_path: bool) -> str:
        """The refusal and what to do; ``with_path``: name the store's directory (the CLI and
        the log; not the dashboard's pages)."""
        where = f"the model store {self.root}" if with_path else "the model store"
        since = self.owner.get("bound_at") or "an unknown time"
        return (f"{where} belongs to another database (installation "
                f"{self.owner.get(INSTALLATION_KEY)}, since {since}; this database is "
                f"installation {self.mine}): its models' song ids are that database's, so "
                "nothing was written and the current model was not switched. Give this "
                "database a store of its own (RECSYS_VAR_DIR, which moves the database and "
                "the store together, or RECSYS_MODEL_DIR), or, if this database replaced that "
                "one on purpose (re-created; a restored backup keeps its installation), "
                f"release the store to it with `{ADOPT_COMMAND}`")


class ForeignCurrentError(StoreOwnedError):
    """A store without an owner whose current model the binding database never registered:
    most likely promoted from another database (two databases shared it before binding)."""

    def __init__(self, root: Path, current: str, mine: str) -> None:
        self.current = current
        super().__init__(root, {}, mine)

    def describe(self, with_path: bool) -> str:
        where = f"the model store {self.root}" if with_path else "the model store"
        return (f"{where} belongs to no database yet, and its current model {self.current} is "
                f"not registered in this database (installation {self.mine}): another "
                "database promoted it, so nothing was written and the current model was not "
                "switched. Give this database a store of its own (RECSYS_VAR_DIR, or "
                "RECSYS_MODEL_DIR), or, if that model is this database's after all, bind the "
                f"store to it with `{ADOPT_COMMAND}`")


def read_owner(root: Path) -> dict[str, Any] | None:
    """The store's owner record (None: the store is not bound yet)."""
    path = root / OWNER_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:  # not JSON (an unusable path is an OSError: said as one)
        raise BundleError(f"{path}: cannot read the model store's owner ({exc}); nothing "
                          f"done. To bind the store to this database: `{ADOPT_COMMAND}`"
                          ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get(INSTALLATION_KEY), str):
        raise BundleError(f"{path}: not a model store owner record (no {INSTALLATION_KEY}); "
                          f"nothing done. To bind the store to this database: `{ADOPT_COMMAND}`")
    return doc


def _write(root: Path, doc: dict[str, Any], replace: bool) -> bool:
    """Write the owner record atomically: a new file renamed (``replace``) or linked into
    place (only when there is none: False if another process bound the store first)."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".owner-{uuid.uuid4().hex}"
    try:
        with tmp.open("w") as fh:
            fh.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, root / OWNER_FILE)
        else:
            try:
                os.link(tmp, root / OWNER_FILE)
            except FileExistsError:
                return False
        fd = os.open(root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _record(installation: str, **extra: Any) -> dict[str, Any]:
    return {INSTALLATION_KEY: installation, "bound_at": f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}",
            **extra}


def check(root: Path, installation: str, write: bool = True) -> bool:
    """Refuse (:class:`StoreOwnedError`) unless the store at ``root`` belongs to
    ``installation``; an unbound store is bound to it (left unbound with ``write`` false: a
    dry run). Returns whether it bound it now."""
    owner = read_owner(root)
    bound = False
    if owner is None and not write:
        return False
    if owner is None:
        bound = _write(root, _record(installation), replace=False)
        owner = read_owner(root)  # another process may have bound it first
    if owner is None or owner[INSTALLATION_KEY] != installation:
        raise StoreOwnedError(root, owner or {}, installation)
    return bound


def adopt(root: Path, installation: str) -> dict[str, Any] | None:
    """Bind the store to ``installation`` whoever owned it; returns the previous record."""
    try:
        previous = read_owner(root)
    except BundleError:  # an unreadable record is what adopting repairs
        previous = None
    extra = {} if previous is None else {"previous": previous.get(INSTALLATION_KEY)}
    _write(root, _record(installation, **extra), replace=True)
    return previous
