"""In-memory shapes shared by the parsers and the database writer.

Every importer first parses and validates a whole file into a :class:`ParsedCatalog`
(nothing touches the database), then :func:`recsys.ingest.writer.write_catalog` writes it
in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot encode (lone surrogates: undecodable bytes of a file
    name or argument, a JSON ``\\udc80``) escaped as ``\\udcff``, so that a log line, a
    message or a database row can hold it."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogate_at(text: str) -> int | None:
    """Index of the first character of ``text`` that UTF-8 cannot encode (a lone surrogate:
    a JSON ``"\\udc80"``, an undecodable byte of a file name or argument), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


class IngestError(Exception):
    """Bad input: rendered as ``FILE:LINE: reason`` (or ``FILE: reason`` without a line);
    both are :func:`printable`."""

    def __init__(self, path: str | Path, line: int | None, reason: str) -> None:
        self.path = printable(str(path))
        self.line = line
        self.reason = printable(reason)
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {self.reason}")


@dataclass(slots=True)
class SongRecord:
    """One song of the file: its external id, metadata and tag names; ``available`` false
    for a placeholder that must never be recommended (``songs.available``)."""

    external_id: str
    title: str
    artist: str
    tags: tuple[str, ...] = ()
    available: bool = True


@dataclass(slots=True)
class PlaylistRecord:
    """One playlist of the file: song external ids in position order (position = index)."""

    external_id: str
    songs: list[str]
    name: str | None = None


@dataclass
class ParsedCatalog:
    """A validated file: songs by external id, playlists in file order.

    Every song external id used by a playlist is a key of ``songs``.
    """

    source: str
    kind: str
    path: str | None
    songs: dict[str, SongRecord] = field(default_factory=dict)
    playlists: list[PlaylistRecord] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the file's last line has no line end: the file may have been cut short
    unterminated: bool = False

    def __post_init__(self) -> None:
        if self.path is not None:  # logged and stored (import_runs.path): printable
            self.path = printable(self.path)

    @property
    def n_items(self) -> int:
        """Number of playlist items in the file."""
        return sum(len(p.songs) for p in self.playlists)


@dataclass
class ImportResult:
    """What one import added (and what it found already present), and what it changed in
    rows already present (:mod:`recsys.ingest.updates`, :mod:`recsys.ingest.snapshot`; the
    examples are in ``notes``)."""

    kind: str
    source: str
    path: str | None
    run_id: int | None = None
    songs_added: int = 0
    songs_existing: int = 0
    playlists_added: int = 0
    playlists_existing: int = 0
    items_added: int = 0
    tags_added: int = 0
    song_tags_added: int = 0
    #: songs whose empty title or artist the file filled in
    songs_filled: int = 0
    #: with ``update``: songs given the file's title or artist instead of another one
    songs_updated: int = 0
    #: with ``update``: playlists whose items were replaced by the file's, and those items
    playlists_replaced: int = 0
    items_replaced: int = 0
    #: playlists whose missing name the file filled in, and (with ``update``) those given the
    #: file's name instead of another one (until session 10 both counted as renamed)
    playlists_named: int = 0
    playlists_renamed: int = 0
    #: with ``update``: songs whose tags the file replaced, and the links it removed (to tags
    #: the file does not list for them)
    songs_retagged: int = 0
    song_tags_removed: int = 0
    #: with ``snapshot``: stored playlists the file does not name, deleted, and their items
    playlists_deleted: int = 0
    items_deleted: int = 0
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    #: the import was done and rolled back (``dry_run``): nothing was written
    dry_run: bool = False

    #: Names of the counts of rows already present that an import changed.
    CHANGE_FIELDS = ("songs_filled", "songs_updated", "playlists_replaced", "items_replaced",
                     "playlists_named", "playlists_renamed", "songs_retagged", "song_tags_removed",
                     "playlists_deleted", "items_deleted")

    def changes(self) -> dict[str, int]:
        """The non-zero counts of :attr:`CHANGE_FIELDS` (``import_runs.changes``)."""
        return {name: n for name in self.CHANGE_FIELDS if (n := getattr(self, name))}

    @property
    def items_per_s(self) -> float:
        """Playlist items written per second (0 when nothing was written)."""
        return self.items_added / self.duration_s if self.duration_s > 0 else 0.0

    def summary(self) -> str:
        """One human-readable summary line."""
        what = self.path or self.kind
        text = (
            ("DRY RUN, rolled back, nothing written: " if self.dry_run else "")
            + f"imported {what} as source {self.source!r}: "
            f"{self.songs_added:,} songs added ({self.songs_existing:,} already present), "
            f"{self.playlists_added:,} playlists added ({self.playlists_existing:,} already "
            f"present), {self.items_added:,} items, {self.tags_added:,} new tags, "
            f"{self.song_tags_added:,} song-tag links in {self.duration_s:.2f} s"
        )
        if self.items_added:
            text += f" ({self.items_per_s:,.0f} items/s)"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text
