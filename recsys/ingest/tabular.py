"""The generic playlist format, as CSV or JSONL: one row per playlist item.

Fields (see ``data/README.md``): ``playlist_id``, ``position``, ``song_id``, ``title``,
``artist`` (required), ``tags`` and ``playlist_name`` (optional). The rows of a playlist are
contiguous, with positions 0, 1, 2... in order. A song id repeated in the file must repeat
the same title, artist and tags, or leave them empty (empty = "as defined before").
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from recsys.ingest.model import (
    IngestError,
    ParsedCatalog,
    PlaylistRecord,
    SongRecord,
    lone_surrogate_at,
)
from recsys.ingest.textio import open_text

REQUIRED = ("playlist_id", "position", "song_id", "title", "artist")  # CSV header
REQUIRED_KEYS = REQUIRED[:3]  # JSONL objects may omit title/artist (= empty)
OPTIONAL = ("tags", "playlist_name")
TAG_SEPARATOR = "|"
MAX_ID, MAX_TEXT = 128, 512

log = logging.getLogger("recsys.ingest")


class RowCollector:
    """Validates rows one by one and builds a :class:`ParsedCatalog`."""

    def __init__(self, path: str, source: str, kind: str) -> None:
        self.path = path
        self.catalog = ParsedCatalog(source=source, kind=kind, path=path)
        self._song_line: dict[str, int] = {}
        self._playlist_line: dict[str, int] = {}
        self._current: PlaylistRecord | None = None

    def _fail(self, line: int, reason: str) -> IngestError:
        return IngestError(self.path, line, reason)

    def _text(self, line: int, row: dict[str, Any], key: str, limit: int) -> str:
        value = row.get(key)
        if (type(value) is str and len(value) <= limit and "\x00" not in value
                and (value.isascii() or lone_surrogate_at(value) is None)):
            return value.strip()  # the common case, checked as below in fewer steps
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self._fail(line, f"{key} must be a string, got {type(value).__name__}")
        value = str(value).strip()
        if len(value) > limit:
            raise self._fail(line, f"{key} is longer than {limit} characters")
        if "\x00" in value:  # PostgreSQL text cannot store it
            raise self._fail(line, f"{key} contains a NUL character")
        if (at := lone_surrogate_at(value)) is not None:  # a JSON "\udc80": no database
            raise self._fail(line, f"{key} is not valid Unicode ({_surrogate(value[at])})")
        return value

    def _tags(self, line: int, value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            value = value.split(TAG_SEPARATOR)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._fail(line, "tags must be a list of strings or a '|'-separated string")
        names = [v.strip() for v in value if v.strip()]
        if any(len(n) > MAX_ID for n in names):
            raise self._fail(line, f"a tag is longer than {MAX_ID} characters")
        if any("\x00" in n for n in names):
            raise self._fail(line, "a tag contains a NUL character")
        for name in names:
            if not name.isascii() and (at := lone_surrogate_at(name)) is not None:
                raise self._fail(line, f"a tag is not valid Unicode ({_surrogate(name[at])})")
        return tuple(dict.fromkeys(names))

    def add(self, line: int, row: dict[str, Any]) -> None:
        """Validate one item row (``line`` is its 1-based line number in the file)."""
        missing = [k for k in REQUIRED_KEYS if k not in row]
        if missing:
            raise self._fail(line, f"missing field(s): {', '.join(missing)}")
        pid = self._text(line, row, "playlist_id", MAX_ID)
        sid = self._text(line, row, "song_id", MAX_ID)
        if not pid or not sid:
            raise self._fail(line, "playlist_id and song_id must not be empty")
        pos = row["position"]
        if isinstance(pos, str) and pos.strip().isdigit() and pos.strip().isascii():
            pos = int(pos)
        if isinstance(pos, bool) or not isinstance(pos, int) or pos < 0:
            raise self._fail(line, f"position {pos!r} is not a non-negative integer")
        self._add_song(line, sid, row)
        name = self._text(line, row, "playlist_name", MAX_TEXT) or None
        self._add_item(line, pid, pos, sid, name)

    def _add_song(self, line: int, sid: str, row: dict[str, Any]) -> None:
        title = self._text(line, row, "title", MAX_TEXT)
        artist = self._text(line, row, "artist", MAX_TEXT)
        tags = self._tags(line, row.get("tags"))
        song = self.catalog.songs.get(sid)
        if song is not None and (title, artist, tags) == (song.title, song.artist, song.tags):
            return  # a song played again, described as before (most rows)
        if song is None:
            self.catalog.songs[sid] = SongRecord(sid, title, artist, tags)
            self._song_line[sid] = line
            return
        first = self._song_line[sid]
        for field, new in (("title", title), ("artist", artist), ("tags", tags)):
            old = getattr(song, field)
            if new and old and new != old:
                raise self._fail(
                    line, f"conflicting {field} for song {sid!r}: {new!r} here, {old!r} on "
                    f"line {first}",
                )
            if new and not old:
                setattr(song, field, new)

    def _add_item(self, line: int, pid: str, pos: int, sid: str, name: str | None) -> None:
        current = self._current
        if current is None or current.external_id != pid:
            if pid in self._playlist_line:
                raise self._fail(line, f"rows of playlist {pid!r} are not contiguous (it "
                                 f"started on line {self._playlist_line[pid]}; a file holds "
                                 "each playlist once, its rows together)")
            if pos != 0:
                raise self._fail(line, f"playlist {pid!r} starts at position {pos} (expected 0)")
            current = self._current = PlaylistRecord(pid, [], name)
            self._playlist_line[pid] = line
            self.catalog.playlists.append(current)
        elif pos < len(current.songs):
            raise self._fail(line, f"duplicate position {pos} in playlist {pid!r}")
        elif pos > len(current.songs):
            raise self._fail(line, f"position gap in playlist {pid!r}: expected "
                             f"{len(current.songs)}, got {pos} (a playlist's rows must be "
                             "sorted by position)")
        if name and current.name and name != current.name:
            raise self._fail(line, f"conflicting playlist_name for playlist {pid!r}")
        current.name = current.name or name
        current.songs.append(sid)

    def finish(self) -> ParsedCatalog:
        """The catalog; a file without any row is an error."""
        if not self.catalog.playlists:
            raise self._fail(1, "empty file: no playlist rows")
        self.catalog.notes.extend(tag_notes(self.catalog))
        return self.catalog


def _surrogate(char: str) -> str:
    """``a lone surrogate \\udc80``."""
    return f"a lone surrogate \\u{ord(char):04x}"


def tag_notes(catalog: ParsedCatalog) -> list[str]:
    """Warnings about tag names that are probably not what the file meant: a ',' or ';'
    inside a name (tags are separated by '|'), names that differ only in letter case (they
    stay different tags). Also logged."""
    names = set().union(*(s.tags for s in catalog.songs.values()))
    notes = []
    joined = sorted(n for n in names if "," in n or ";" in n)
    if joined:
        notes.append(f"{len(joined):,} tag name(s) contain ',' or ';' (e.g. {joined[0]!r}): "
                     f"tags are separated by {TAG_SEPARATOR!r}, so each is one tag")
    by_fold: dict[str, list[str]] = {}
    for name in sorted(names):
        by_fold.setdefault(name.casefold(), []).append(name)
    variants = [group for group in by_fold.values() if len(group) > 1]
    if variants:
        notes.append(f"{len(variants):,} tag name(s) come in several letter cases (e.g. "
                     f"{' / '.join(map(repr, variants[0]))}): they are kept as different tags")
    for note in notes:
        log.warning("%s: %s", catalog.path, note)
    return notes


def collect(rows: Iterable[tuple[int, dict[str, Any]]], path: str, source: str,
            kind: str) -> ParsedCatalog:
    """Validate ``(line, row)`` pairs into a catalog (used by CSV, JSONL and the sample)."""
    collector = RowCollector(path, source, kind)
    for line, row in rows:
        collector.add(line, row)
    return collector.finish()


def _csv_rows(path: Path, text: Iterator[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    reader = csv.reader(text, strict=True)
    start = 1  # first line of the record being read (a quoted field may span lines)
    try:
        first = next(reader, None)
        while first is not None and not any(f.strip() for f in first):
            first = next(reader, None)  # blank lines before the header
        if first is None:
            raise IngestError(path, 1, "empty file")
        header = [h.strip().lower() for h in first]  # column names ignore case
        missing = [k for k in REQUIRED if k not in header]
        if missing:
            raise IngestError(path, reader.line_num, f"missing column(s): {', '.join(missing)}"
                              f"{_header_hint(header)}")
        repeated = sorted({h for h in header if h and header.count(h) > 1})
        if repeated:  # which one would win is a guess; say so instead
            raise IngestError(path, reader.line_num, f"repeated column(s): {', '.join(repeated)}")
        start = reader.line_num + 1
        width = len(header)
        for fields in reader:
            # a blank line, or a row of empty fields (spreadsheets write ",,,,"): no data
            if "".join(fields).strip():
                if len(fields) != width:
                    hint = ("a value with an unquoted comma? quote it: \"a, b\""
                            if len(fields) > width else "truncated line?")
                    raise IngestError(path, start, f"expected {width} fields, got "
                                      f"{len(fields)} ({hint})")
                yield start, dict(zip(header, fields, strict=True))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise IngestError(path, start, f"bad CSV: {exc} (unclosed quote?)") from None


def _header_hint(header: list[str]) -> str:
    """What the header looked like, and the separator it seems to use when not a comma."""
    shown = ", ".join(repr(h) for h in header[:10]) + (", ..." if len(header) > 10 else "")
    hint = f" (the header has {len(header)} column(s): {shown[:300]}"
    if len(header) == 1:
        for sep, name in ((";", "';'"), ("\t", "tabs")):
            if sep in header[0]:
                hint += f"; the file seems separated by {name}: this importer reads commas"
                break
    return hint + ")"


def _jsonl_rows(path: Path, text: Iterator[str]) -> Iterable[tuple[int, dict[str, Any]]]:
    blank = True
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        blank = False
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise IngestError(path, number, f"invalid JSON: {exc.msg}") from None
        except RecursionError:  # [[[[...]]]]: the decoder recurses per level
            raise IngestError(path, number, "invalid JSON (nested too deeply)") from None
        if not isinstance(row, dict):
            raise IngestError(path, number, "expected a JSON object")
        yield number, row
    if blank:
        raise IngestError(path, 1, "empty file")


def parse_csv(path: str | Path, source: str,
              on_read: Callable[[int], None] | None = None) -> ParsedCatalog:
    """Parse and validate a CSV playlist file (UTF-8, header line first), streamed;
    ``on_read``: see :func:`~recsys.ingest.textio.open_text`."""
    path = Path(path)
    with open_text(path, on_read=on_read) as text:
        last: list[str] = [""]
        catalog = collect(_csv_rows(path, _keep_last(text, last)), str(path), source, "csv")
    return _check_end(catalog, last[0])


def parse_jsonl(path: str | Path, source: str,
                on_read: Callable[[int], None] | None = None) -> ParsedCatalog:
    """Parse and validate a JSONL playlist file (one JSON object per item row), streamed;
    ``on_read``: see :func:`~recsys.ingest.textio.open_text`."""
    path = Path(path)
    # lines end at \n only: JSON may hold a bare \r as whitespace
    with open_text(path, newline="\n", on_read=on_read) as text:
        last: list[str] = [""]
        catalog = collect(_jsonl_rows(path, _keep_last(text, last)), str(path), source,
                          "jsonl")
    return _check_end(catalog, last[0])


def _keep_last(lines: Iterator[str], last: list[str]) -> Iterator[str]:
    for line in lines:
        last[0] = line
        yield line


def _check_end(catalog: ParsedCatalog, last_line: str) -> ParsedCatalog:
    """Flag (and note) a file whose last line has no line end: a cut file looks like that,
    and its last row may be a shortened value that still parses (``--snapshot`` refuses it)."""
    if last_line and not last_line.endswith(("\n", "\r")):
        catalog.unterminated = True
        note = ("the file does not end with a line end: if it was cut short, its last row is "
                "incomplete (an export ends every row with one)")
        catalog.notes.append(note)
        log.warning("%s: %s", catalog.path, note)
    return catalog
