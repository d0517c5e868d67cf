"""Public importers: parse and validate a whole file, then write it in one transaction."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog
from recsys.ingest.tabular import parse_csv, parse_jsonl
from recsys.ingest.writer import write_catalog
from recsys.ingest.yes import parse_yes_dir

#: Source of csv/jsonl imports when none is given.
DEFAULT_SOURCE = "custom"
MAX_SOURCE = 64


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
    return write_catalog(engine, catalog, progress=progress)


def import_yes(engine: Engine, directory: str | Path, source: str | None = None, *,
               progress: bool = True) -> ImportResult:
    """Import one Yes.com subset directory; ``source`` defaults to the directory name.

    Raises:
        IngestError: bad or missing input; nothing is written.
    """
    directory = Path(directory)
    name = check_source(source if source is not None else directory.resolve().name)
    return import_catalog(engine, parse_yes_dir(directory, name), progress=progress)


def import_csv(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
               progress: bool = True) -> ImportResult:
    """Import a CSV playlist file (format in ``data/README.md``)."""
    return import_catalog(engine, parse_csv(path, check_source(source)), progress=progress)


def import_jsonl(engine: Engine, path: str | Path, source: str = DEFAULT_SOURCE, *,
                 progress: bool = True) -> ImportResult:
    """Import a JSONL playlist file (format in ``data/README.md``)."""
    return import_catalog(engine, parse_jsonl(path, check_source(source)), progress=progress)
