"""Catalog ingestion: Yes.com, CSV and JSONL importers, the synthetic sample, DB readers.

Importers validate a whole file first, then write it in ONE transaction; re-importing a file
adds nothing (rows are keyed by ``(source, external_id)``). Bad input raises
:class:`IngestError` (``FILE:LINE: reason``) and writes nothing.
"""

from recsys.ingest.importers import (
    DEFAULT_SOURCE,
    import_catalog,
    import_csv,
    import_jsonl,
    import_yes,
)
from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog
from recsys.ingest.reader import catalog_snapshot, iter_playlist_batches
from recsys.ingest.remove import Removal, delete_playlists_of

__all__ = [
    "DEFAULT_SOURCE",
    "ImportResult",
    "IngestError",
    "ParsedCatalog",
    "Removal",
    "catalog_snapshot",
    "delete_playlists_of",
    "import_catalog",
    "import_csv",
    "import_jsonl",
    "import_yes",
    "iter_playlist_batches",
]
