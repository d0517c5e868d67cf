"""Parser of the Yes.com playlist dataset directory (one subset: yes_small, yes_big...).

Files (see ``data/README.md``): ``song_hash.txt`` (``ID<TAB>Title<TAB>Artist``, the ID may be
followed by a space, ``\\/`` escapes), ``tags.txt`` (one line per song: tag ids or ``#``),
``tag_hash.txt`` (``ID, name``) and the optional ``train.txt`` (2 header lines, then one
playlist of song ids per line, each id followed by a space). Playlist external ids are the
0-based indexes of the playlist lines; song external ids are the dataset's integer ids.
"""

from __future__ import annotations

import logging
from collections import Counter
from itertools import chain
from pathlib import Path

from recsys.ingest.gcpause import gc_paused
from recsys.ingest.model import IngestError, ParsedCatalog, PlaylistRecord, SongRecord
from recsys.ingest.textio import read_text, split_lines

log = logging.getLogger("recsys.ingest")
MAX_TEXT, MAX_TAG = 512, 128  # column sizes of songs.title/artist and tags.name
#: A title or artist that stands for "nothing" in song_hash.txt (yes_big: 35 songs "-"/"-").
EMPTY_TEXT = frozenset({"", "-"})


def is_placeholder(title: str, artist: str) -> bool:
    """Whether a Yes.com song is a placeholder, never to be recommended: the title
    ``MG_DELETED`` (a deleted song), or no title and no artist (both empty or ``-``)."""
    return title == "MG_DELETED" or (title in EMPTY_TEXT and artist in EMPTY_TEXT)


def _int(path: Path, line: int, token: str, what: str) -> int:
    token = token.strip()
    if not token.isdigit() or not token.isascii():
        raise IngestError(path, line, f"{what} {token!r} is not a non-negative integer")
    return int(token)


def _ints(path: Path, line: int, text: str, what: str) -> list[int]:
    """Space-separated non-negative integers (fast path; the slow path names the bad token)."""
    tokens = text.split()
    try:
        values = list(map(int, tokens))
    except ValueError:
        values = []
    if len(values) != len(tokens) or (values and min(values) < 0):
        values = [_int(path, line, t, what) for t in tokens]
    return values


def parse_song_hash(path: Path) -> list[SongRecord]:
    """Songs in id order; ids must run 0..n-1, one per line. Placeholders (see
    :func:`is_placeholder`) are marked unavailable: their plays still train models."""
    lines = split_lines(path, read_text(path), need_final_newline=True)
    songs: list[SongRecord] = []
    for idx, line in enumerate(lines):
        parts = line.split("\t")
        if len(parts) != 3:
            raise IngestError(
                path, idx + 1, f"expected 'ID<TAB>Title<TAB>Artist', got {len(parts)} field(s)"
            )
        song_id = _int(path, idx + 1, parts[0], "song id")
        if song_id != idx:
            raise IngestError(path, idx + 1, f"song id {song_id} out of order (expected {idx})")
        title = parts[1].replace("\\/", "/").strip()
        artist = parts[2].replace("\\/", "/").strip()
        if len(title) > MAX_TEXT or len(artist) > MAX_TEXT:
            raise IngestError(path, idx + 1, f"title or artist longer than {MAX_TEXT} characters")
        if "\x00" in title or "\x00" in artist:
            raise IngestError(path, idx + 1, "title or artist contains a NUL character")
        songs.append(SongRecord(str(song_id), title, artist,
                                available=not is_placeholder(title, artist)))
    return songs


def parse_tag_hash(path: Path) -> dict[int, str]:
    """Tag id -> name (``ID, name`` lines; the last line may lack its newline)."""
    tags: dict[int, str] = {}
    for idx, line in enumerate(split_lines(path, read_text(path), need_final_newline=False)):
        tag_id, sep, name = line.partition(",")
        if not sep or not name.strip():
            raise IngestError(path, idx + 1, "expected 'ID, name'")
        number = _int(path, idx + 1, tag_id, "tag id")
        if number in tags:
            raise IngestError(path, idx + 1, f"duplicate tag id {number}")
        tags[number] = name.strip().replace("\\/", "/")
        if len(tags[number]) > MAX_TAG:
            raise IngestError(path, idx + 1, f"tag name longer than {MAX_TAG} characters")
        if "\x00" in tags[number]:
            raise IngestError(path, idx + 1, "tag name contains a NUL character")
    return tags


def parse_song_tags(path: Path, songs: list[SongRecord], tag_names: dict[int, str]) -> None:
    """Set ``songs[i].tags`` from line i of tags.txt (tag ids, or ``#`` for none).

    Canonically spelled tag ids are looked up by their text (one C loop per line); any other
    token takes the slow path, which accepts other spellings or names the bad token.
    """
    lines = split_lines(path, read_text(path), need_final_newline=True)
    if len(lines) != len(songs):
        line = min(len(lines), len(songs)) + 1
        raise IngestError(
            path, line, f"{len(lines):,} lines but song_hash.txt has {len(songs):,} songs"
        )
    name_of = {str(number): name for number, name in tag_names.items()}.__getitem__
    for idx, tokens in enumerate(map(str.split, lines)):
        if not tokens:
            raise IngestError(path, idx + 1, "empty line (use '#' for a song without tags)")
        if tokens == ["#"]:
            continue
        try:
            names = list(map(name_of, tokens))
        except KeyError:
            names = _tag_names(path, idx + 1, lines[idx], tag_names)
        songs[idx].tags = tuple(dict.fromkeys(names))


def _tag_names(path: Path, line: int, text: str, tag_names: dict[int, str]) -> list[str]:
    """Tag names of one tags.txt line, or the line's error (the slow path)."""
    try:
        return [tag_names[t] for t in _ints(path, line, text, "tag id")]
    except KeyError as exc:
        raise IngestError(
            path, line, f"unknown tag id {exc.args[0]} (not in tag_hash.txt)"
        ) from None


def _header_ints(path: Path, lines: list[str], idx: int, n_songs: int, what: str) -> list[int]:
    if idx >= len(lines):
        raise IngestError(path, idx + 1, f"truncated file: missing header line {idx + 1} ({what})")
    values = _ints(path, idx + 1, lines[idx], what)
    if len(values) != n_songs:
        raise IngestError(
            path, idx + 1, f"header has {len(values):,} {what}s but song_hash.txt has "
            f"{n_songs:,} songs"
        )
    return values


def parse_train(path: Path, n_songs: int, strict_counts: bool = True) -> list[PlaylistRecord]:
    """Playlists of train.txt; checks ids against ``n_songs`` and header line 2's counts.

    With ``strict_counts=False`` a count mismatch is logged as a warning instead of raised
    (a file cut out of a bigger one without recounting line 2 can still be evaluated on).

    Fast path, for files that spell every song id canonically (``0``, ``17``...): the ids
    are counted (``Counter``), validated with one set comparison of the distinct ones and
    kept as the tokens themselves (they already are the songs' external ids), all in C
    loops. Otherwise every line is checked in order as before, which reports the first bad
    line or accepts other spellings (``007``).
    """
    lines = split_lines(path, read_text(path), need_final_newline=True)
    _header_ints(path, lines, 0, n_songs, "external song id")
    expected = _header_ints(path, lines, 1, n_songs, "appearance count")
    names = [str(i) for i in range(n_songs)]
    body = lines[2:]
    rows = list(map(str.split, body))
    found = Counter(chain.from_iterable(rows))
    if 0 in map(len, rows) or not set(names).issuperset(found):
        rows = [_playlist_ids(path, idx + 3, text, names) for idx, text in enumerate(body)]
        found = Counter(chain.from_iterable(rows))
    counts = [found.get(name, 0) for name in names]
    if counts != expected:
        for song_id, (want, got) in enumerate(zip(expected, counts, strict=True)):
            if want != got:
                error = IngestError(
                    path, 2, f"header says song {song_id} appears {want} times but the "
                    f"playlists contain it {got} times (truncated or edited file?)",
                )
                if strict_counts:
                    raise error
                n_off = sum(w != g for w, g in zip(expected, counts, strict=True))
                log.warning("%s (%d songs differ); using the playlists as they are", error, n_off)
                break
    return [PlaylistRecord(str(number), songs) for number, songs in enumerate(rows)]


def _playlist_ids(path: Path, line: int, text: str, names: list[str]) -> list[str]:
    """Song external ids of one playlist line, or the line's error (the slow path)."""
    ids = _ints(path, line, text, "song id")
    if not ids:
        raise IngestError(path, line, "empty playlist line")
    if max(ids) >= len(names):
        bad = next(i for i in ids if not 0 <= i < len(names))
        raise IngestError(
            path, line, f"unknown song id {bad} (song_hash.txt defines 0..{len(names) - 1})"
        )
    return list(map(names.__getitem__, ids))


def parse_yes_dir(directory: str | Path, source: str, *, strict_counts: bool = True
                  ) -> ParsedCatalog:
    """Parse and validate a Yes.com subset directory into a :class:`ParsedCatalog`.

    ``strict_counts=False`` accepts a ``train.txt`` whose header line 2 disagrees with its
    playlists (a subset cut out of a bigger file) with a warning.

    Raises:
        IngestError: the first bad line (``FILE:LINE: reason``) or a missing file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise IngestError(directory, None, "no such directory")
    with gc_paused():
        return _parse_yes_dir(directory, source, strict_counts)


def _parse_yes_dir(directory: Path, source: str, strict_counts: bool) -> ParsedCatalog:
    songs = parse_song_hash(directory / "song_hash.txt")
    tag_names = parse_tag_hash(directory / "tag_hash.txt")
    parse_song_tags(directory / "tags.txt", songs, tag_names)
    catalog = ParsedCatalog(source=source, kind="yes", path=str(directory))
    catalog.songs = {s.external_id: s for s in songs}
    train = directory / "train.txt"
    if train.exists():
        catalog.playlists = parse_train(train, len(songs), strict_counts)
    else:
        catalog.notes.append("no train.txt: imported songs and tags only, 0 playlists")
        log.warning("%s has no train.txt: importing songs and tags only", directory)
    return catalog


def parse_yes_playlists(path: str | Path) -> list[PlaylistRecord]:
    """Playlists of one ``train.txt``-format file alone (no song metadata), e.g. held-out data.

    The song count comes from header line 1 (one external id per song); everything else is
    checked as in :func:`parse_train`, except that header line 2's counts only warn when
    they disagree. Songs are the subset's integer ids (as text), the external ids an import
    of the subset gave them.
    """
    path = Path(path)
    first = read_text(path).split("\n", 1)[0]
    n_songs = len(first.split())
    if n_songs == 0:
        raise IngestError(path, 1, "header line 1 should list one external id per song")
    with gc_paused():
        return parse_train(path, n_songs, strict_counts=False)
