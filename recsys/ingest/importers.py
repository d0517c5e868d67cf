"""Public importers: parse and validate a whole file, then write it in one transaction."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recsys.db.models import Song
from recsys.ingest.fastinsert import raw_rows
from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog, printable
from recsys.ingest.snapshot import MAX_DELETE
from recsys.ingest.tabular import parse_csv, parse_jsonl
from recsys.ingest.writer import make_progress, write_catalog
from recsys.ingest.yes import parse_yes_dir

log = logging.getLogger("recsys.ingest")

#: Source of csv/jsonl imports when none is given.
DEFAULT_SOURCE = "custom"
#: Longest source name: its database column (the API's bound is the same column's).
MAX_SOURCE: int = Song.__table__.c.source.type.length  # type: ignore[attr-defined]


def check_source(source: str) -> str:
    """A valid source name (non-empty, at most ``MAX_SOURCE`` characters, no surrounding
    spaces, encodable: no lone surrogate)."""
    name = (source or "").strip()
    if not name or len(name) > MAX_SOURCE:
        raise IngestError("--source", None, f"source must be 1..{MAX_SOURCE} characters")
    if printable(name) != name:
        raise IngestError("--source", None, f"source '{printable(name)}' is not valid Unicode "
                          "(undecodable bytes or a lone surrogate)")
    return name


def import_catalog(engine: Engine, catalog: ParsedCatalog, *, progress: bool = True,
                   update: bool = False, snapshot: bool = False,
                   max_delete: float = MAX_DELETE, dry_run: bool = False) -> ImportResult:
    """Write an already validated catalog (one transaction, idempotent).

    Rows already in the database get only their missing title, artist or playlist name from
    the file; what else differs is reported in the summary (and logged as a warning). With
    ``update`` the file is authoritative for the rows it names: their titles and artists,
    playlist items and names become the file's (rows it does not name are untouched;
    :mod:`recsys.ingest.updates`). A ``snapshot`` is an ``update`` that also deletes the
    source's stored playlists the file does not name, refused beyond ``max_delete`` of them
    (:mod:`recsys.ingest.snapshot`). ``dry_run`` does it all, then rolls it back.
    """
    catalog.source = check_source(catalog.source)
    refuse_case_variant(engine, catalog.source)
    return write_catalog(engine, catalog, progress=progress, update=update, snapshot=snapshot,
                         max_delete=max_delete, dry_run=dry_run)


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


def _parse(parse: Callable[[], ParsedCatalog], what: str | Path) -> ParsedCatalog:
    """Run a parser; its time goes into the summary (the write is timed separately)."""
    log.info("reading %s", printable(str(what)))
    started = time.perf_counter()
    catalog = parse()
    catalog.notes.append(f"read and checked in {time.perf_counter() - started:.2f} s")
    return catalog


def _read_file(parse: Callable[..., ParsedCatalog], path: str | Path, source: str,
               progress: bool) -> ParsedCatalog:
    """``parse`` a CSV or JSONL file with a progress bar of the bytes read (on a terminal)."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # missing: the parser says so; a pipe: no position, no bar
    with make_progress(size, f"read {Path(path).name}", progress, unit="B") as bar:
        return _parse(lambda: parse(path, source, on_read=lambda pos: bar.update(pos - bar.n)),
                      path)


#: Why a Yes.com directory cannot be a snapshot.
YES_SNAPSHOT = ("a Yes.com directory cannot be imported as a snapshot: its playlists are "
                "identified by their line number in train.txt, so a line removed upstream "
                "would renumber every later playlist; export the source as CSV or JSONL with "
                "stable playlist ids for --snapshot imports")


def import_yes(engine: Engine, directory: str | Path, source: str | None = None, *,
               progress: bool = True, strict_counts: bool = True,
               **mode: Any) -> ImportResult:
    """Import one Yes.com subset directory; ``source`` defaults to the directory name;
    ``strict_counts=False`` only warns when train.txt's header counts disagree with it;
    ``mode``: ``update`` of :func:`import_catalog` (not ``snapshot``: see ``YES_SNAPSHOT``).

    Raises:
        IngestError: bad or missing input; nothing is written.
    """
    directory = Path(directory)
    if mode.get("snapshot"):
        raise IngestError(directory, None, YES_SNAPSHOT)
    name = check_source(source if source is not None else directory.resolve().name)
    return import_catalog(engine, _parse(
        lambda: parse_yes_dir(directory, name, strict_counts=strict_counts), directory),
                          progress=progress, **mode)


def import_csv(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
               progress: bool = True, **mode: Any) -> ImportResult:
    """Import a CSV playlist file (format in ``data/README.md``; ``mode``: ``update``,
    ``snapshot``, ``max_delete`` of :func:`import_catalog`)."""
    source = check_source(source)
    return import_catalog(engine, _read_file(parse_csv, path, source, progress),
                          progress=progress, **mode)


def import_jsonl(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
                 progress: bool = True, **mode: Any) -> ImportResult:
    """Import a JSONL playlist file (format in ``data/README.md``; ``mode``: ``update``,
    ``snapshot``, ``max_delete`` of :func:`import_catalog`)."""
    source = check_source(source)
    return import_catalog(engine, _read_file(parse_jsonl, path, source, progress),
                          progress=progress, **mode)
