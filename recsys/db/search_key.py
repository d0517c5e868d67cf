"""The song search key: title and artist folded for accent- and case-insensitive search.

``songs.search_key`` (migration 0007) holds :func:`song_search_key` of each song's title and
artist, and a search matches the needle folded by the same :func:`fold` with a plain
``LIKE '%needle%'``: "beyonce", "Beyonce" and "BEYONCÉ" all find "Beyoncé", "motley crue"
finds "Mötley Crüe", "sigur ros" finds "Sigur Rós". Both databases then run the search
natively (no Python function per row on SQLite; a trigram index on PostgreSQL).

Folding, in order:

1. NFKD (compatibility decomposition: accents split off their letters, ligatures and
   full-width forms become plain letters, "ﬁ" -> "fi", "Ｂ" -> "B"), then Unicode case
   folding (``str.casefold``: "ß" -> "ss", final "ς" -> "σ"), then NFKD again;
2. letters NFKD leaves whole get their usual Latin spelling (:data:`LETTERS`: "ø" -> "o",
   "æ" -> "ae", "ł" -> "l", "đ"/"ð" -> "d", "þ" -> "th", "ı" -> "i"...), typographic
   apostrophes, quotes and dashes their ASCII forms (``Don’t`` is found by ``don't``);
3. the combining diacritical marks (:data:`MARK_RANGES`: the accents of Latin, Greek and
   Cyrillic letters) are removed; marks of other scripts are kept (Japanese kana keep their
   voicing marks, "が" stays "が"), then NFC composes what is left again (Hangul, kana), so
   CJK text is unchanged;
4. runs of whitespace (including control characters such as tab and newline) become one
   space, with none at either end.

Turkish: the dotted capital "İ" (case-folded to "i" + a combining dot) and the dotless "ı"
both fold to "i", like "I" and "i": whoever types "istanbul" or "isik" finds "İstanbul" and
"Işık", at the price of not telling the Turkish letters apart (language-agnostic, like the
rest of the folding).

The key is ``fold(title) + SEPARATOR + fold(artist)``. ``SEPARATOR`` is a whitespace
character (the ASCII unit separator), so no folded needle can contain it and a needle never
matches across the end of the title into the artist: the key keeps the "substring of the
title or of the artist" meaning in one column.

Changing the folding changes every stored key: a change here needs a migration that
recomputes ``songs.search_key`` (as 0007 does), or searches stop matching old rows.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

#: Between the folded title and artist in a key; whitespace, so never part of a folded text.
SEPARATOR = "\x1f"

#: Letters (after case folding) that NFKD does not decompose, with their usual Latin
#: spelling, and typographic punctuation with its ASCII form.
LETTERS = {
    "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i",
    "ħ": "h", "ŧ": "t", "ƀ": "b", "ƶ": "z", "ɨ": "i", "ʉ": "u", "ƒ": "f",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u02bc": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-",
}
#: Combining diacritical marks removed by the folding (their blocks; other scripts' marks
#: are kept, see the module docstring).
MARK_RANGES = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
               (0xFE20, 0xFE2F))

_TABLE: dict[int, str | None] = {ord(k): v for k, v in LETTERS.items()}
_TABLE.update((c, None) for lo, hi in MARK_RANGES for c in range(lo, hi + 1))
_normalize = unicodedata.normalize


def fold(text: str | None) -> str:
    """``text`` folded for search (see the module docstring); ``None`` folds to ``""``."""
    if not text:
        return ""
    if text.isascii():  # the common case: same result, a fraction of the cost
        return " ".join(text.lower().split())
    text = _normalize("NFKD", _normalize("NFKD", text).casefold()).translate(_TABLE)
    return " ".join(_normalize("NFC", text).split())


def song_search_key(title: str | None, artist: str | None) -> str:
    """The ``songs.search_key`` of a song: ``fold(title) + SEPARATOR + fold(artist)``."""
    return fold(title) + SEPARATOR + fold(artist)


# --- filling in empty keys -------------------------------------------------------------------

#: Songs per batch of :func:`fill_empty_keys` (read, folded in Python, written back by id).
BATCH = 10_000
#: Seconds between progress lines of :func:`fill_empty_keys`.
LOG_EVERY_S = 10.0


def fill_empty_keys(bind: Connection | Engine, batch: int | None = None,
                    log: logging.Logger | None = None) -> int:
    """Compute the key of every song whose ``search_key`` is empty; how many were written.

    A computed key is never empty (it holds :data:`SEPARATOR`), so an empty one is a song no
    key was computed for: written before migration 0007 (its backfill), or meanwhile by a
    release that does not know the column (the server default ``''``; the nightly job's
    recovery fills those in). Songs go in batches of :data:`BATCH` in id order (keyset
    pagination, so it resumes where an interrupted run stopped), never all in memory.

    ``bind``: an ``Engine`` runs each batch in its own transaction; a ``Connection`` runs them
    in the caller's (one per statement, so per batch, on an ``AUTOCOMMIT`` connection). When
    there is nothing to fill in, the cost is one query (a scan of ``songs`` that would stop at
    the first empty key: 12 ms on PostgreSQL, 9 ms on SQLite for 85,000 songs).
    """
    log = log or logging.getLogger(__name__)
    batch = batch or BATCH
    exists = sa.text("SELECT 1 FROM songs WHERE search_key = '' LIMIT 1")
    with _connection(bind) as conn:
        if conn.execute(exists).first() is None:
            return 0
        todo = conn.execute(sa.text("SELECT COUNT(*) FROM songs WHERE search_key = ''")).scalar()
    log.info("songs.search_key: computing the keys of %d songs", todo)
    postgres = bind.dialect.name == "postgresql"
    if postgres:  # one statement per batch
        update = sa.text(
            "UPDATE songs SET search_key = v.key FROM unnest(CAST(:ids AS integer[]), "
            "CAST(:keys AS text[])) AS v(id, key) WHERE songs.id = v.id "
            "AND songs.search_key = ''")
    else:
        update = sa.text("UPDATE songs SET search_key = :key WHERE id = :id AND search_key = ''")
    done, last, t0 = 0, None, time.monotonic()
    logged = t0
    while True:
        # keyset pagination by id (ids may be zero or negative: the first batch is unbounded)
        after, params = ("", {"n": batch}) if last is None else (
            " AND id > :last", {"n": batch, "last": last})
        with _connection(bind) as conn:
            rows = conn.execute(sa.text(
                f"SELECT id, title, artist FROM songs WHERE search_key = ''{after} "
                "ORDER BY id LIMIT :n"), params).all()
            if not rows:
                break
            keys = [song_search_key(title, artist) for _id, title, artist in rows]
            if postgres:
                conn.execute(update, {"ids": [r[0] for r in rows], "keys": keys})
            else:
                conn.execute(update, [{"id": r[0], "key": k}
                                      for r, k in zip(rows, keys, strict=True)])
        done += len(rows)
        last = rows[-1][0]
        now = time.monotonic()
        if now - logged >= LOG_EVERY_S:
            log.info("songs.search_key: %d of %d songs (%.0f%%, %.0f s)", done, todo,
                     100 * done / max(todo, done), now - t0)
            logged = now
    log.info("songs.search_key: %d songs in %.1f s", done, time.monotonic() - t0)
    return done


@contextmanager
def _connection(bind: Connection | Engine) -> Iterator[Connection]:
    """``bind`` itself (a connection), or a new transaction on it (an engine)."""
    if isinstance(bind, sa.Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind
