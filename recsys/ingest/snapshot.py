"""Snapshot imports: the file is the whole source's playlists, so the others are deleted.

A feed that exports its complete state every night (every playlist a service still has)
means "a playlist missing from tonight's file was deleted upstream". ``snapshot`` imports
apply that: the playlists of the file's source that the file does not name are deleted with
their items, in the import's one transaction (after its lock, so the comparison sees what a
concurrent import committed). A snapshot is also an ``update`` import: the rows it names get
its titles, artists, items and names (:mod:`recsys.ingest.updates`).

Songs are never deleted: the format names songs only through playlist items, so a song
missing from the file may simply have no plays tonight. A song left without playlists drops
out of the next model (it has nothing to learn from) and stays in the catalog for look-ups;
``songs hide`` removes one from answers at once.

A cut or empty export must not wipe a catalog: a snapshot that would delete more than
``max_delete`` of the source's stored playlists is refused (nothing is written) unless the
caller raises the bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog
from recsys.ingest.updates import delete_by_ids, example, rows_for_ids

#: Largest fraction of a source's stored playlists a snapshot may delete by default: a night's
#: full export rarely drops a fifth of its playlists, while a cut file (a failed transfer, a
#: half-written export) drops a share proportional to what is missing, half of it at 50%.
MAX_DELETE = 0.2


@dataclass
class Deletions:
    """The stored playlists a snapshot deletes: database ids and external ids, same order."""

    ids: list[int] = field(default_factory=list)
    external_ids: list[str] = field(default_factory=list)
    items: int = 0


def plan_deletions(conn: Connection, catalog: ParsedCatalog, pl_ids: dict[str, int],
                   max_delete: float) -> Deletions:
    """The stored playlists of the source that ``catalog`` does not name.

    Args:
        conn: the import's connection (inside its transaction and lock).
        catalog: the validated file.
        pl_ids: external id -> database id of the source's stored playlists.
        max_delete: largest fraction of ``pl_ids`` that may be deleted (0..1).

    Raises:
        IngestError: the snapshot would delete more than ``max_delete`` of the stored
            playlists (a cut or empty export?); nothing has been written.
    """
    if not 0 <= max_delete <= 1:  # also refuses nan, which every comparison would let by
        raise ValueError(f"max_delete must be a fraction from 0 to 1, got {max_delete!r}")
    if catalog.unterminated:
        raise IngestError(catalog.path or catalog.kind, None, (
            "as a snapshot this file must be complete, but its last line has no line end: "
            "was it cut short? Nothing was written. If the file is whole, add the line end "
            "(echo >> FILE) or import it without --snapshot"))
    named = {p.external_id for p in catalog.playlists}
    gone = sorted((pid, ext) for ext, pid in pl_ids.items() if ext not in named)
    plan = Deletions([pid for pid, _ext in gone], [ext for _pid, ext in gone])
    if not plan.ids:
        return plan
    share = len(plan.ids) / len(pl_ids)
    if share > max_delete:
        raise IngestError(catalog.path or catalog.kind, None, (
            f"as a snapshot this file would delete {len(plan.ids):,} of the "
            f"{len(pl_ids):,} playlists of source {catalog.source!r} ({share:.0%}, more than "
            f"the allowed {max_delete:.0%}; not in the file: {example(plan.external_ids)}). "
            "Is the export cut short or of another source? Nothing was written. If the "
            "source really dropped them, import with --max-delete "
            f"{min(100, int(share * 100) + 1)}"))
    plan.items = sum(n for (n,) in rows_for_ids(
        conn, "SELECT COUNT(*) FROM playlist_items WHERE playlist_id {ids}", plan.ids))
    return plan


def delete_playlists(conn: Connection, plan: Deletions) -> None:
    """Delete the planned playlists and their items (items first: SQLite imports run with
    foreign keys off, so no cascade would remove them)."""
    delete_by_ids(conn, "playlist_items", "playlist_id", plan.ids)
    delete_by_ids(conn, "playlists", "id", plan.ids)


def record_deletions(plan: Deletions, result: ImportResult) -> None:
    """Counts and a note of the deletions on ``result``."""
    result.playlists_deleted, result.items_deleted = len(plan.ids), plan.items
    if plan.ids:
        result.notes.append(
            f"{len(plan.ids):,} playlists deleted (not in the snapshot: "
            f"{example(plan.external_ids)}; {plan.items:,} items)")
