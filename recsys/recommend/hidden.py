"""Songs never to recommend (``songs.available`` false), as one served model sees them.

A :class:`Hidden` is immutable: the ids (every hidden song, also ones the model has not
seen, for the database fallbacks) and a boolean mask over the model's rows, computed once
per change, so filtering a request's candidates is one vectorised look-up. The model holder
replaces a model's ``Hidden`` with one reference assignment when the database's set changes
(:meth:`recsys.recommend.model.ServingModel.set_hidden`); a request that already read it
keeps a consistent pair.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hidden:
    """Hidden song ids and, over a model's rows, the mask of the hidden ones."""

    ids: frozenset[int]
    #: ``mask[row]`` true when the song at ``row`` is hidden; None when no row is.
    mask: np.ndarray | None = None
    #: Short digest of ``ids`` ("" when none): part of the answers' ``ETag``.
    tag: str = ""

    @classmethod
    def of(cls, ids: Iterable[int], row_of: Callable[[int], int | None], n_rows: int
           ) -> Hidden:
        """The hidden set ``ids`` over a model of ``n_rows`` rows (``row_of``: id -> row)."""
        ids = frozenset(int(i) for i in ids)
        tag = ""
        if ids:
            text = ",".join(map(str, sorted(ids))).encode()
            tag = hashlib.blake2b(text, digest_size=6).hexdigest()
        rows = [r for r in map(row_of, ids) if r is not None]
        if not rows:
            return cls(ids, None, tag)
        mask = np.zeros(n_rows, dtype=bool)
        mask[rows] = True
        return cls(ids, mask, tag)

    def __len__(self) -> int:
        return len(self.ids)

    def visible(self, rows: np.ndarray) -> np.ndarray | None:
        """Boolean selector of the ``rows`` that are not hidden, or None when all are."""
        if self.mask is None or len(rows) == 0:
            return None
        hidden = self.mask[rows]
        return ~hidden if hidden.any() else None
