"""Public importers: parse and validate a whole file, then write it in one transaction."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Engine

from recsys.ingest.fastinsert import raw_rows
from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog
from recsys.ingest.tabular import parse_csv, parse_jsonl
from recsys.ingest.writer import write_catalog
from recsys.ingest.yes import parse_yes_dir

log = logging.getLogger("recsys.ingest")

#: Source of csv/jsonl imports when none is given.
DEFAULT_SOURCE = "custom"
MAX_SOURCE = 64
#: Playlist ids per query when comparing re-sent playlists with the database.
CHUNK = 500


def check_source(source: str) -> str:
    """A valid source name (non-empty, at most 64 characters, no surrounding spaces)."""
    name = (source or "").strip()
    if not name or len(name) > MAX_SOURCE:
        raise IngestError("--source", None, f"source must be 1..{MAX_SOURCE} characters")
    return name


def import_catalog(engine: Engine, catalog: ParsedCatalog, *, progress: bool = True
                   ) -> ImportResult:
    """Write an already validated catalog (one transaction, idempotent)."""
    catalog.source = check_source(catalog.source)
    refuse_case_variant(engine, catalog.source)
    catalog.notes.extend(changes_ignored(engine, catalog))
    return write_catalog(engine, catalog, progress=progress)


def refuse_case_variant(engine: Engine, source: str) -> None:
    """A new source named like an existing one but for letter case (``Acme`` beside ``acme``)
    is a typo that would start a second catalog: an error naming the existing source."""
    with engine.connect() as conn:
        names = {name for (name,) in raw_rows(
            conn, "SELECT DISTINCT source FROM songs UNION SELECT DISTINCT source FROM playlists")}
    if source in names:
        return
    twins = sorted(n for n in names if n.casefold() == source.casefold())
    if twins:
        raise IngestError("--source", None, f"source {source!r} differs from the existing source "
                          f"{twins[0]!r} only in letter case: sources are matched exactly, so this "
                          f"would start a second catalog; import with --source {twins[0]}")


def _example(ids: list[str]) -> str:
    return ", ".join(map(repr, ids[:3])) + (", ..." if len(ids) > 3 else "")


def changes_ignored(engine: Engine, catalog: ParsedCatalog) -> list[str]:
    """Warnings for what an import will NOT change: rows already in the database are never
    updated, so a song the file gives another title or artist, and a playlist it gives other
    songs, keep their database values. Also logged. (Read before the import's transaction:
    an import running at the same time may make a count slightly off.)"""
    with engine.connect() as conn:
        songs = {ext: (title, artist) for ext, title, artist in raw_rows(
            conn, "SELECT external_id, title, artist FROM songs WHERE source = ?",
            (catalog.source,))}
        if not songs:
            return []
        retitled = [ext for ext, song in catalog.songs.items() if ext in songs and any(
            new and new != old for new, old in zip((song.title, song.artist), songs[ext],
                                                   strict=True))]
        known = set(map(itemgetter(0), raw_rows(
            conn, "SELECT external_id FROM playlists WHERE source = ?", (catalog.source,))))
        resent = {p.external_id: p.songs for p in catalog.playlists if p.external_id in known}
        stored: dict[str, list[str]] = {}
        pids = list(resent)
        for start in range(0, len(pids), CHUNK):  # only the re-sent playlists' items
            chunk = pids[start:start + CHUNK]
            for pid, sid in raw_rows(
                    conn, "SELECT p.external_id, s.external_id FROM playlists p "
                    "JOIN playlist_items pi ON pi.playlist_id = p.id "
                    "JOIN songs s ON s.id = pi.song_id WHERE p.source = ? AND p.external_id "
                    f"IN ({', '.join('?' * len(chunk))}) ORDER BY p.id, pi.position",
                    (catalog.source, *chunk)):
                stored.setdefault(pid, []).append(sid)
        changed = [pid for pid, new in resent.items() if stored.get(pid, []) != new]
    notes = []
    if retitled:
        notes.append(f"{len(retitled):,} song(s) already in the database have another title or "
                     f"artist in this file ({_example(retitled)}): the database keeps its "
                     "values (rows are never updated)")
    if changed:
        notes.append(f"{len(changed):,} playlist(s) already in the database have other songs "
                     f"in this file ({_example(changed)}): the database keeps its version (a "
                     "changed playlist needs a new playlist_id)")
    for note in notes:  # the summary line printed on stdout carries it: log it to the file
        log.warning("%s: %s", catalog.path or catalog.kind, note, extra={"printed": True})
    return notes


def _parse(parse: Callable[[], ParsedCatalog], what: str | Path) -> ParsedCatalog:
    """Run a parser; its time goes into the summary (the write is timed separately)."""
    log.info("reading %s", what)
    started = time.perf_counter()
    catalog = parse()
    catalog.notes.append(f"read and checked in {time.perf_counter() - started:.2f} s")
    return catalog


def import_yes(engine: Engine, directory: str | Path, source: str | None = None, *,
               progress: bool = True, strict_counts: bool = True) -> ImportResult:
    """Import one Yes.com subset directory; ``source`` defaults to the directory name;
    ``strict_counts=False`` only warns when train.txt's header counts disagree with it.

    Raises:
        IngestError: bad or missing input; nothing is written.
    """
    directory = Path(directory)
    name = check_source(source if source is not None else directory.resolve().name)
    return import_catalog(engine, _parse(
        lambda: parse_yes_dir(directory, name, strict_counts=strict_counts), directory),
                          progress=progress)


def import_csv(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
               progress: bool = True) -> ImportResult:
    """Import a CSV playlist file (format in ``data/README.md``)."""
    source = check_source(source)
    return import_catalog(engine, _parse(lambda: parse_csv(path, source), path),
                          progress=progress)


def import_jsonl(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
                 progress: bool = True) -> ImportResult:
    """Import a JSONL playlist file (format in ``data/README.md``)."""
    source = check_source(source)
    return import_catalog(engine, _parse(lambda: parse_jsonl(path, source), path),
                          progress=progress)
