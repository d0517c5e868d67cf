"""Playlists kept outside the database (a later export, a withheld set), for evaluation.

``recsys evaluate --test PATH`` trains every method on the database's playlists and scores
them on a file that was never imported. The file is parsed and validated like an import
(same formats, same ``FILE:LINE: reason`` errors) but nothing is written: its songs are
matched to the catalog by ``(source, external_id)``. Songs the catalog does not know get
negative ids, so the queries that need them count as misses, as in every other evaluation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from recsys.db.models import Playlist, Song
from recsys.ingest.model import IngestError, PlaylistRecord
from recsys.ingest.tabular import parse_csv, parse_jsonl
from recsys.ingest.yes import parse_yes_dir, parse_yes_playlists

FORMATS = ("yes", "csv", "jsonl")


def guess_format(path: str | Path) -> str:
    """``yes`` for a directory or a ``.txt`` file, else ``csv`` / ``jsonl`` by suffix (a
    compressed file by the suffix before ``.gz``: ``day.csv.gz`` is CSV)."""
    path = Path(path)
    if path.is_dir():
        return "yes"
    suffix = Path(path.stem).suffix if path.suffix == ".gz" else path.suffix
    if suffix == ".txt":
        return "yes"
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    raise IngestError(path, None, "cannot tell the format from the name: give --test-format")


def read_playlist_records(path: str | Path, fmt: str, source: str) -> list[PlaylistRecord]:
    """Parse and validate the playlists of ``path`` (nothing is written anywhere)."""
    if fmt == "yes":
        if Path(path).is_dir():
            return parse_yes_dir(path, source).playlists
        return parse_yes_playlists(path)
    if fmt == "csv":
        return parse_csv(path, source).playlists
    if fmt == "jsonl":
        return parse_jsonl(path, source).playlists
    raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")


def only_source(engine: Engine) -> str:
    """The database's one playlist source; an error naming them when there are several."""
    with engine.connect() as conn:
        sources = sorted(conn.scalars(select(Playlist.source).distinct()))
    if len(sources) != 1:
        found = ", ".join(sources) or "none"
        raise IngestError("--source", None, f"the database has sources {found}: give --source")
    return sources[0]


@dataclass
class ExternalTest:
    """Test playlists as catalog song ids, and how well they match the catalog."""

    path: str
    source: str
    playlists: list[list[int]]
    n_items: int
    unknown_songs: int  # distinct songs of the file that the catalog does not have
    unknown_items: int
    duplicates: int = 0  # playlists (2+ songs) identical to a training playlist
    #: Fraction of the training playlists (2+ songs) identical to another training playlist:
    #: the rate at which test playlists drawn from the same data repeat training ones.
    train_repeat_rate: float = 0.0

    def summary(self) -> str:
        return (f"test: {len(self.playlists):,} playlists ({self.n_items:,} items) from "
                f"{self.path}; {self.unknown_songs:,} songs ({self.unknown_items:,} items) not "
                f"in the catalog of {self.source!r}; {self.duplicates:,} playlists identical to "
                f"a training playlist ({self.duplicate_frac:.1%}; the training playlists repeat "
                f"each other at {self.train_repeat_rate:.1%})")

    @property
    def duplicate_frac(self) -> float:
        """Fraction of the test playlists identical to a training playlist."""
        return self.duplicates / len(self.playlists) if self.playlists else 0.0

    def looks_imported(self) -> bool:
        """Far more test playlists repeat training ones than the training data repeats itself:
        the file (or part of it) was probably imported and is not held out."""
        return self.duplicate_frac > 2 * self.train_repeat_rate + 0.01

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        del out["playlists"]
        out["n_playlists"] = len(self.playlists)
        return out


def load_external(engine: Engine, path: str | Path, fmt: str, source: str,
                  train: Sequence[Sequence[int]] = ()) -> ExternalTest:
    """Playlists of ``path`` with their songs mapped to the catalog's ids for ``source``;
    ``duplicates`` counts those identical to one of the ``train`` playlists."""
    records = read_playlist_records(path, fmt, source)
    if not records:
        raise IngestError(path, None, "no playlists in the test file")
    with engine.connect() as conn:
        rows = conn.execute(select(Song.external_id, Song.id).where(Song.source == source))
        ids: dict[str, int] = dict(rows.tuples().all())
    unknown: dict[str, int] = {}
    playlists = []
    for record in records:
        playlists.append([ids[ext] if ext in ids else unknown.setdefault(ext, -1 - len(unknown))
                          for ext in record.songs])
    n_unknown_items = sum(1 for p in playlists for s in p if s < 0)
    return ExternalTest(path=str(path), source=source, playlists=playlists,
                        n_items=sum(map(len, playlists)), unknown_songs=len(unknown),
                        unknown_items=n_unknown_items,
                        duplicates=count_duplicates(playlists, train),
                        train_repeat_rate=repeat_rate(train))


def repeat_rate(playlists: Sequence[Sequence[int]]) -> float:
    """Fraction of the playlists of 2+ songs that equal another one song for song."""
    seen = Counter(tuple(p) for p in playlists if len(p) >= 2)
    total = sum(seen.values())
    return sum(n for n in seen.values() if n > 1) / total if total else 0.0


def count_duplicates(test: Sequence[Sequence[int]], train: Sequence[Sequence[int]]) -> int:
    """Test playlists of 2+ songs that equal a training playlist song for song."""
    seen = {tuple(p) for p in train if len(p) >= 2}
    return sum(1 for p in test if len(p) >= 2 and tuple(p) in seen)
