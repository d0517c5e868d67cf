"""Song metadata of a loaded bundle: row look-up and the public JSON shape of songs.

Catalogs up to ``DECODE_MAX_SONGS`` songs are decoded once per process into Python lists (a few
MB at 10k songs) with each song's JSON pre-serialised; larger catalogs keep the shared,
memory-mapped pages and decode only the rows a response needs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recsys.index.bundle import Bundle, StringColumn, encode_song_json

COLUMNS = ("source", "external_id", "title", "artist")
# Catalogs up to this size get their metadata decoded once per process.
DECODE_MAX_SONGS = 100_000


class SongMetadata:
    """Mixin of :class:`recsys.recommend.model.ServingModel`: its songs' columns.

    The host sets ``song_ids``, ``_lookup_ids`` and ``_lookup_rows`` before
    :meth:`_load_metadata`.
    """

    song_ids: np.ndarray
    _lookup_ids: np.ndarray
    _lookup_rows: np.ndarray

    def _load_metadata(self, bundle: Bundle) -> None:
        n = len(self.song_ids)
        self.columns = {c: bundle.strings(c) for c in COLUMNS}
        self._decoded: dict[str, list] | None = None
        self._rows: dict[int, int] | None = None
        # each song's JSON object pre-serialised (as Flask's jsonify writes it: sorted keys,
        # compact, ASCII), for responses built by string joining
        self.song_json: list[str] | StringColumn | None = None
        if n <= DECODE_MAX_SONGS:
            self._decoded = {c: col.take(np.arange(n)) for c, col in self.columns.items()}
            self._decoded["id"] = self.song_ids.tolist()
            self._rows = {song_id: row for row, song_id in enumerate(self._decoded["id"])}
            self.song_json = [encode_song_json(song) for song in self.songs(range(n))]
        elif bundle.has("song_json.blob.npy"):  # bundles built before it lack the column
            self.song_json = bundle.strings("song_json")

    def row_of(self, song_id: int) -> int | None:
        """Row of a song id, or None when the model has not seen the song."""
        if self._rows is not None:
            return self._rows.get(int(song_id))
        pos = int(np.searchsorted(self._lookup_ids, song_id))
        if pos < len(self._lookup_ids) and int(self._lookup_ids[pos]) == int(song_id):
            return int(self._lookup_rows[pos])
        return None

    def song(self, row: int) -> dict[str, Any]:
        """Public JSON shape of the song at ``row``."""
        return self.songs([row])[0]

    def songs(self, rows: np.ndarray | list[int]) -> list[dict[str, Any]]:
        """Public JSON shapes of the songs at ``rows``, in order (each column decoded once)."""
        if self._decoded is not None:
            d = self._decoded
            ids, source, ext, title, artist = (
                d["id"], d["source"], d["external_id"], d["title"], d["artist"])
            return [{"id": ids[r], "source": source[r], "external_id": ext[r],
                     "title": title[r], "artist": artist[r]}
                    for r in (rows.tolist() if isinstance(rows, np.ndarray) else rows)]
        rows = np.asarray(rows, dtype=np.int64)
        c = self.columns
        return [
            {"id": i, "source": s, "external_id": e, "title": t, "artist": a}
            for i, s, e, t, a in zip(
                self.song_ids[rows].tolist(), c["source"].take(rows),
                c["external_id"].take(rows), c["title"].take(rows), c["artist"].take(rows),
                strict=True)
        ]

    def songs_json(self, rows: list[int]) -> list[str]:
        """Pre-serialised JSON of the songs at ``rows`` (requires ``song_json``)."""
        js = self.song_json
        if isinstance(js, StringColumn):
            return js.take(rows)
        return [js[r] for r in rows]

    def artist(self, row: int) -> str:
        if self._decoded is not None:
            return self._decoded["artist"][row]
        return self.columns["artist"][row]
