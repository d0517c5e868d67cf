"""Songs by their id in the imported data: ``(source, external_id) -> catalog id`` for one model.

Apps know songs by their own ids (a CSV ``song_id``), not by the catalog's. The served model
answers that look-up from its bundle's song metadata, without the database, through an
:class:`ExternalIds` built once per loaded model (:meth:`ServingModel.external_ids`): for a
process's first model by the holder right after its swap, for a later one before its swap when
a request used the previous model's, else on first use.

Two layouts, as :meth:`ServingModel.row_of` has:

* catalogs whose metadata the model decodes into Python lists (``DECODE_MAX_SONGS``): one dict
  per source, ``{external_id: song_id}``, over the strings and ints those lists already hold,
  so only the dicts' own tables are new memory;
* larger catalogs: the sorted 64-bit hashes of ``(source, external_id)`` and their rows (12
  bytes per song instead of ~120 for dicts of decoded strings); a hit is checked against the
  bundle's strings, so a hash collision can never answer the wrong song.

Songs the model does not know (cold start) are not here: the service asks the database for
those, in one query (:meth:`recsys.recommend.catalog.SqlCatalog.songs_by_external`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from recsys.recommend.model import ServingModel


class ExternalIds:
    """``(source, external_id) -> song id`` over the songs of one model."""

    def __init__(self, model: ServingModel) -> None:
        # the model's columns, not the model: no reference cycle keeps an old model's memory
        # maps alive after a promotion
        self._song_ids = model.song_ids
        self._sources, self._externals = model.columns["source"], model.columns["external_id"]
        self._by_source: dict[str, dict[str, int]] | None = None
        #: Whether a request resolved anything with it (the holder then builds the next
        #: model's before its swap).
        self.used = False
        self._hashes: np.ndarray | None = None
        self._rows: np.ndarray | None = None
        decoded = model._decoded
        if decoded is not None:
            by_source: dict[str, dict[str, int]] = {}
            for source, external_id, song_id in zip(
                    decoded["source"], decoded["external_id"], decoded["id"], strict=True):
                ids = by_source.get(source)
                if ids is None:
                    ids = by_source[source] = {}
                ids[external_id] = song_id
            self._by_source = by_source
            return
        n = len(model)
        everything = np.arange(n)
        keys = zip(self._sources.take(everything), self._externals.take(everything),
                   strict=True)
        hashes = np.fromiter(map(hash, keys), dtype=np.int64, count=n)
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._rows = order.astype(np.int32 if n < 2**31 else np.int64)

    def get(self, source: str, external_ids: Sequence[str]) -> list[int | None]:
        """The song id of each of ``external_ids`` of ``source`` (None: the model does not
        know it), in order."""
        self.used = True
        if self._by_source is not None:
            ids = self._by_source.get(source)
            if ids is None:
                return [None] * len(external_ids)
            return [ids.get(e) for e in external_ids]
        assert self._hashes is not None
        out: list[int | None] = []
        for external_id in external_ids:  # one at a time: cheaper than numpy for a few ids
            h = hash((source, external_id))
            out.append(self._find(source, external_id, h, int(self._hashes.searchsorted(h))))
        return out

    def _find(self, source: str, external_id: str, h: int, pos: int) -> int | None:
        """The song of the rows of hash ``h`` (from ``pos``) that is this one, if any."""
        assert self._hashes is not None and self._rows is not None
        while pos < len(self._hashes) and int(self._hashes[pos]) == h:
            row = int(self._rows[pos])
            if self._externals[row] == external_id and self._sources[row] == source:
                return int(self._song_ids[row])
            pos += 1  # another key with the same hash
        return None

    def nbytes(self) -> int:
        """Memory of the look-up's own structures (not the strings and ints it shares)."""
        import sys

        if self._by_source is not None:
            return sum(sys.getsizeof(d) for d in self._by_source.values())
        assert self._hashes is not None and self._rows is not None
        return self._hashes.nbytes + self._rows.nbytes
