"""A consistent backup of the database and the model bundles, taken while servers run.

What holds state: the database (catalog, training runs, the model registry and its
promotion history, admin sessions) and the model store (the bundles under ``versions/`` and
the ``current`` link). Secrets live in the environment file, which operators back up with
the rest of their configuration.

The two must agree (the registry names the bundles, a bundle names its training run), so the
backup holds the nightly job's lock (waiting for a running job to finish) and the switch lock
(no promotion or rollback meanwhile) while it copies both:

- SQLite: the online backup API (a consistent copy of a live database, WAL included; copying
  the file with ``cp`` is not).
- PostgreSQL: ``pg_dump --format=custom`` (restore with ``pg_restore``); the password, if the
  URL has one, goes through ``PGPASSWORD``, never the command line.
- Bundles: every committed version and the ``current`` link (relative, so the copy can be
  restored anywhere); temporary files and lock files are left out.

``backup.json`` in the destination records when, which schema revision, which model was
current and what the catalog held.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, text

from recsys.db.base import utcnow
from recsys.index.bundle import fsync_dir
from recsys.index.store import ModelStore
from recsys.jobs.joblock import JobLockedError, job_lock

log = logging.getLogger("recsys.jobs")


class BackupError(RuntimeError):
    """The backup could not be taken (nothing usable was left in the destination)."""


@dataclass
class BackupReport:
    """What a backup holds."""

    destination: str
    created_at: str
    schema_revision: str | None
    database: str  # "sqlite" or "postgresql"
    database_file: str
    current_model: str | None
    models: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0

    def summary(self) -> str:
        return (f"backup in {self.destination}: {self.database} database "
                f"({self.counts.get('songs', 0):,} songs, {self.counts.get('playlists', 0):,} "
                f"playlists, schema {self.schema_revision}), {len(self.models)} model "
                f"bundle(s), current {self.current_model or 'none'}; {self.duration_s:.1f} s")


def _copy_models(store: ModelStore, target: Path) -> list[str]:
    versions = store.versions()  # committed bundles only (no .tmp-*)
    (target / "versions").mkdir(parents=True, exist_ok=True)
    for version in versions:
        # links are copied as links, never followed: a link planted in the store (to
        # /etc/shadow, or to a whole tree) must not put what it names into the backup
        source, copy = store.versions_dir / version, target / "versions" / version
        if source.is_symlink():
            log.warning("model bundle %s is a symbolic link (to %s): copied as a link",
                        version, os.readlink(source))
            os.symlink(os.readlink(source), copy)
        else:
            shutil.copytree(source, copy, symlinks=True)
    current = store.current_version()
    if current is not None:
        os.symlink(Path("versions") / current, target / "current")
    return versions


def _pg_dump() -> str | None:
    """``pg_dump`` on ``PATH``, else the newest one of Debian's versioned directories."""
    found = shutil.which("pg_dump")
    if found is None:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"),
                            key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
        found = str(candidates[-1]) if candidates else None
    return found


def _dump_database(engine: Engine, dest: Path) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        out = dest / "recsys.db"
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        copy = sqlite3.connect(out)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return out.name
    if url.get_backend_name() != "postgresql":
        raise BackupError(f"cannot back up a {url.get_backend_name()} database")
    pg_dump = _pg_dump()
    if pg_dump is None:
        raise BackupError("pg_dump is not on PATH (install the PostgreSQL client tools)")
    out = dest / "recsys.dump"
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    # a URL without the password (URL.set ignores password=None, and render_as_string would
    # then pass "***" on the command line, which libpq prefers to PGPASSWORD)
    conninfo = URL.create("postgresql", username=url.username, host=url.host, port=url.port,
                          database=url.database, query=url.query).render_as_string()
    result = subprocess.run([pg_dump, "--format=custom", "--file", str(out), "--dbname",
                             conninfo], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()[:500]}")
    return out.name


def _facts(engine: Engine) -> tuple[str | None, dict[str, int]]:
    with engine.connect() as conn:
        revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        counts = {table: int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar() or 0)
                  for table in ("songs", "playlists", "playlist_items", "training_runs",
                                "model_versions")}
    return revision, counts


def backup(engine: Engine, store: ModelStore, dest: str | Path, *,
           wait_s: float = 3600.0) -> BackupReport:
    """Copy the database and the model store into ``dest`` (a new or empty directory).

    Everything is written into ``dest/.incomplete`` first, flushed to disk, then moved up,
    ``backup.json`` last: a backup killed mid-way (``kill -9``, a reboot) leaves only
    ``.incomplete``, never a directory that looks like a backup.

    Raises:
        BackupError: ``dest`` is not empty, a lock stayed taken for ``wait_s`` seconds, the
            dump failed, or writing failed (a full disk); a partly written destination is
            removed.
    """
    dest = Path(dest)
    if dest.is_symlink():  # one planted in a shared directory would redirect the backup
        raise BackupError(f"{dest} is a symbolic link: give the real directory")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BackupError(_not_empty(dest))
    started = time.perf_counter()
    existed = dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o700)  # the catalog, the dashboard's sessions and run history: owner only
    old_umask = os.umask(0o077)  # and every file written below (the dump, the bundle copies)
    claimed = False  # whether DEST was found empty under the lock: then its entries are ours
    try:
        with job_lock(store.root / "retrain.lock", wait_s, "backup"), store.switch_lock():
            # again under the lock: another backup into DEST (a cron overlap) may have filled
            # it while this one waited, and its files are not this one's to overwrite or delete
            if any(dest.iterdir()):
                raise BackupError(f"{_not_empty(dest)} (another backup wrote into it "
                                  "meanwhile); nothing was backed up")
            claimed = True
            stage = dest / STAGE
            stage.mkdir()
            revision, counts = _facts(engine)
            db_file = _dump_database(engine, stage)
            models = _copy_models(store, stage / "models")
            report = BackupReport(
                destination=str(dest), created_at=utcnow().isoformat(timespec="seconds"),
                schema_revision=revision, database=engine.url.get_backend_name(),
                database_file=db_file, current_model=store.current_version(),
                models=models, counts=counts)
        report.duration_s = round(time.perf_counter() - started, 2)
        (stage / "backup.json").write_text(json.dumps(asdict(report), indent=2) + "\n")
        _fsync_tree(stage)
        for name in (db_file, "models", "backup.json"):  # backup.json last: it is complete
            os.rename(stage / name, dest / name)
        stage.rmdir()
        fsync_dir(dest)
    except BaseException as exc:
        # described first: the free space before the clean-up gives the partial copy back
        failure = _write_failure(exc, dest) if isinstance(exc, OSError | sqlite3.Error) else ""
        if claimed:  # leave nothing that looks like a backup, and only what this one wrote
            with contextlib.suppress(OSError):
                _remove_partial(dest)
        if not existed:
            with contextlib.suppress(OSError):  # someone else's files arrived: theirs
                dest.rmdir()
        if isinstance(exc, JobLockedError):
            raise BackupError(f"{exc} after {wait_s:g} s; nothing was backed up") from exc
        if failure:  # a full disk, a read-only or vanished directory: one line, no traceback
            raise BackupError(failure) from exc
        raise
    finally:
        os.umask(old_umask)
    log.info("%s", report.summary())
    return report


#: The directory inside DEST that a backup writes into before moving its files up.
STAGE = ".incomplete"
#: What :func:`backup` writes into its destination (all a failed one may remove).
WRITTEN = ("recsys.db", "recsys.db-journal", "recsys.db-wal", "recsys.db-shm", "recsys.dump",
           "models", "backup.json", STAGE)


def _not_empty(dest: Path) -> str:
    if (dest / STAGE).is_dir():
        return (f"{dest} holds an incomplete backup ({STAGE}, left by a backup that was "
                "stopped): delete it, or give another directory")
    return f"{dest} exists and is not an empty directory"


def _write_failure(exc: BaseException, dest: Path) -> str:
    """One line for a backup that could not be written (shutil.copytree's error lists every
    file it could not copy: the first one is named)."""
    if isinstance(exc, shutil.Error) and exc.args and isinstance(exc.args[0], list):
        failed = exc.args[0]
        why = f"{len(failed)} file(s) not copied, e.g. {failed[0][2]}"
    else:
        why = str(exc)
    full = (getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left"
            in why or "disk is full" in why)
    if full:
        with contextlib.suppress(OSError):
            why += f" ({shutil.disk_usage(dest.parent).free / 2**20:.1f} MiB free)"
    return f"backup into {dest} failed: {why}; nothing was kept there"


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk (links are not followed)."""
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                with path.open("rb") as fh:
                    os.fsync(fh.fileno())
        fsync_dir(Path(folder))


def _remove_partial(dest: Path) -> None:
    for name in WRITTEN:
        child = dest / name
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        elif child.exists() or child.is_symlink():
            child.unlink()


def read_report(dest: str | Path) -> dict[str, Any]:
    """The ``backup.json`` of a backup directory."""
    return json.loads((Path(dest) / "backup.json").read_text())
