"""Deleting a source's playlists (``python -m recsys playlists delete``).

Data imported under the wrong source (a file imported without ``--source`` lands in
``custom``) would otherwise be trained on every night: a snapshot cannot empty a source (a
file without rows is an error). :func:`delete_playlists_of` deletes every playlist of one
source, or the named ones, with their items, in one transaction, and records it as an
``import_runs`` row of kind ``delete`` whose ``changes`` count ``playlists_deleted`` and
``items_deleted`` (the dashboard's imports table shows them).

It takes the importers' lock first (:mod:`recsys.ingest.writer`: on PostgreSQL the imports'
advisory lock; on SQLite its first statement is a write, which takes the database's write
lock, waited for up to the connection's 30 s busy timeout, then "database is locked" and
nothing deleted), so it waits for a running import, the nightly job's included, and the
playlists it reads cannot change before it deletes them.

Songs are never deleted, as with snapshots (:mod:`recsys.ingest.snapshot`): a song left
without playlists stays in the catalog for look-ups and drops out of the next model;
``songs hide`` removes one from answers at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, update

from recsys.db.base import utcnow
from recsys.db.models import ImportRun
from recsys.ingest.analyze import refresh_statistics
from recsys.ingest.fastinsert import raw_rows
from recsys.ingest.importers import check_source
from recsys.ingest.model import IngestError
from recsys.ingest.snapshot import Deletions, delete_playlists
from recsys.ingest.updates import example, rows_for_ids

# the importers' own lock, so that both can never disagree on it
from recsys.ingest.writer import one_import_at_a_time as take_import_lock

log = logging.getLogger("recsys.ingest")

#: ``import_runs.kind`` of a deletion.
KIND = "delete"
_runs = ImportRun.__table__


@dataclass
class Removal:
    """What :func:`delete_playlists_of` deleted (or, ``dry_run``, would delete)."""

    source: str
    #: the playlists asked for by external id; empty: every playlist of the source
    selected: tuple[str, ...] = ()
    #: external ids of the deleted playlists, sorted
    deleted: list[str] = field(default_factory=list)
    items_deleted: int = 0
    #: the source's songs, and those of them in no playlist afterwards
    songs: int = 0
    songs_without_playlists: int = 0
    run_id: int | None = None
    dry_run: bool = False
    duration_s: float = 0.0

    @property
    def playlists_deleted(self) -> int:
        """Number of playlists deleted."""
        return len(self.deleted)

    def changes(self) -> dict[str, int]:
        """The run's ``import_runs.changes``."""
        return {"playlists_deleted": self.playlists_deleted, "items_deleted": self.items_deleted}

    def summary(self) -> str:
        """One human-readable summary line."""
        if not self.deleted:
            return (f"source {self.source!r} has no playlists: nothing deleted "
                    f"(its {self.songs:,} songs stay)")
        which = "" if self.selected else "all "
        text = (("DRY RUN, rolled back, nothing written: would delete " if self.dry_run
                 else "deleted ")
                + f"{which}{self.playlists_deleted:,} playlists of source {self.source!r} "
                f"({example(self.deleted)}) and their {self.items_deleted:,} items "
                f"in {self.duration_s:.2f} s")
        if self.run_id is not None:
            text += f" (import run #{self.run_id})"
        return text + (
            f"; songs are kept: {self.songs_without_playlists:,} of the source's "
            f"{self.songs:,} songs {'would be' if self.dry_run else 'are now'} in no playlist "
            "and drop out of the next model (the served model keeps them until one is promoted; "
            "`songs hide` removes a song from answers at once)")


def delete_playlists_of(engine: Engine, source: str, external_ids: Sequence[str] = (), *,
                        dry_run: bool = False, expect: Sequence[str] | None = None) -> Removal:
    """Delete every playlist of ``source`` (or only ``external_ids`` of it) with its items.

    One transaction, after the importers' lock; recorded as an ``import_runs`` row unless
    nothing was deleted or ``dry_run`` (everything is done and counted, then rolled back).
    ``expect``: the external ids a preview showed (and a person confirmed); when the
    playlists to delete are no longer exactly those, nothing is deleted.

    Raises:
        IngestError: an invalid or unknown source (the message lists the known ones), a
            named playlist the source does not hold, or playlists other than ``expect``;
            nothing is deleted.
    """
    t0 = time.perf_counter()
    source = check_source(source)
    selected = tuple(dict.fromkeys(x.strip() for x in external_ids))
    if any(not x for x in selected):
        raise IngestError("--playlist", None, "a playlist id must not be empty")
    removal = Removal(source, selected, dry_run=dry_run)
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            _remove(conn, removal, t0, expect)
        except BaseException:
            trans.rollback()
            raise
        if dry_run or not removal.deleted:
            trans.rollback()
            removal.run_id = None
        else:
            trans.commit()
    removal.duration_s = time.perf_counter() - t0
    if removal.deleted:  # the command prints it: to the log file only
        log.info("%s", removal.summary(), extra={"printed": True})
    if removal.deleted and not dry_run:  # committed: fresh estimates after a large deletion
        refresh_statistics(engine, source, {"playlists": removal.playlists_deleted,
                                            "playlist_items": removal.items_deleted})
    return removal


def _remove(conn: Connection, removal: Removal, t0: float,
            expect: Sequence[str] | None = None) -> None:
    """The deletion's statements, inside its transaction."""
    take_import_lock(conn)
    # first a write: on SQLite it opens the transaction and takes the write lock, so the
    # reads below see what every other writer committed and nothing changes until commit
    removal.run_id = conn.execute(insert(_runs).values(
        kind=KIND, source=removal.source, path=None, started_at=utcnow(),
    ).returning(_runs.c.id)).scalar_one()
    _check_known(conn, removal.source)
    pl_ids = dict(raw_rows(conn, "SELECT external_id, id FROM playlists WHERE source = ?",
                           (removal.source,)))
    if removal.selected:
        unknown = [x for x in removal.selected if x not in pl_ids]
        if unknown:
            raise IngestError("--playlist", None, (
                f"source {removal.source!r} has no playlist {example(unknown)} "
                f"({len(unknown):,} of the {len(removal.selected):,} named); nothing deleted"))
        pl_ids = {x: pl_ids[x] for x in removal.selected}
    gone = sorted((ext, pid) for ext, pid in pl_ids.items())
    now = {ext for ext, _pid in gone}
    if expect is not None and set(expect) != now:
        added, removed = sorted(now - set(expect)), sorted(set(expect) - now)
        what = "; ".join(f"{label} {example(ids)}" for label, ids in
                         (("new", added), ("gone", removed)) if ids)
        raise IngestError("--source", None, (
            f"the playlists of source {removal.source!r} are not the previewed ones any more "
            f"({what}: another import or deletion ran meanwhile); nothing deleted: run the "
            "command again"))
    plan = Deletions([pid for _ext, pid in gone], [ext for ext, _pid in gone])
    plan.items = sum(n for (n,) in rows_for_ids(
        conn, "SELECT COUNT(*) FROM playlist_items WHERE playlist_id {ids}", plan.ids))
    delete_playlists(conn, plan)
    removal.deleted, removal.items_deleted = plan.external_ids, plan.items
    removal.songs, removal.songs_without_playlists = raw_rows(conn, (
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM playlist_items i "
        "WHERE i.song_id = s.id) THEN 1 ELSE 0 END), 0) FROM songs s WHERE s.source = ?"),
        (removal.source,))[0]
    removal.duration_s = time.perf_counter() - t0
    conn.execute(update(_runs).where(_runs.c.id == removal.run_id).values(
        finished_at=utcnow(), duration_s=removal.duration_s, changes=removal.changes()))


def _check_known(conn: Connection, source: str) -> None:
    """Refuse a source that names no song and no playlist, listing the known ones."""
    known: dict[str, int] = {name: 0 for (name,) in raw_rows(
        conn, "SELECT DISTINCT source FROM songs")}
    known.update(raw_rows(conn, "SELECT source, COUNT(*) FROM playlists GROUP BY source"))
    if source in known:
        return
    listed = ", ".join(f"{name!r} ({n:,} playlists)" for name, n in sorted(known.items()))
    twins = [name for name in sorted(known) if name.casefold() == source.casefold()]
    hint = f" (sources are matched exactly: did you mean {twins[0]!r}?)" if twins else ""
    raise IngestError("--source", None, (
        f"unknown source {source!r}{hint}; known sources: {listed or 'none (empty database)'}"
        "; nothing deleted"))
