"""Each source is its own catalog: answers stay among the seeds' sources.

Songs are never matched across sources (an import's ``--source``), so a song of another
source is one the app asking cannot play: a demo sample beside real data, two customers'
catalogs in one database. Their playlists never share songs, so the counting terms never
cross sources, but the embedding and popularity terms of ``next`` can (measured: 11 of 6,000
``next`` items for 600 seeds of a model trained on the sample and yes_small together), and so
could the cold-start fallbacks. A model of one source pays one attribute look-up.
"""

from __future__ import annotations

import weakref

import numpy as np

from recsys.recommend.model import ServingModel

#: Per model: the source code of each row (None: one source), and the popular rows of each
#: set of sources asked for (a few sets: the sources).
_CODES: weakref.WeakKeyDictionary[ServingModel, tuple[np.ndarray | None, list[str]]] = (
    weakref.WeakKeyDictionary())
_POPULAR: weakref.WeakKeyDictionary[ServingModel, dict[frozenset, np.ndarray]] = (
    weakref.WeakKeyDictionary())


def source_codes(m: ServingModel) -> tuple[np.ndarray | None, list[str]]:
    """Each row's source as an index into the model's source names (None with one source)."""
    found = _CODES.get(m)
    if found is None:
        sources, codes = m.columns["source"].codes()  # without decoding every row
        found = (codes.astype(np.int32) if len(sources) > 1 else None, sources)
        _CODES[m] = found
    return found


def same_source(m: ServingModel, seeds: np.ndarray, rows: np.ndarray) -> np.ndarray | None:
    """Mask of ``rows`` whose source is one of the ``seeds`` rows' sources; None when the
    model holds one source (nothing to filter)."""
    codes, _names = source_codes(m)
    if codes is None:
        return None
    mine = np.unique(codes[np.asarray(seeds, dtype=np.int64)])
    row_codes = codes[np.asarray(rows, dtype=np.int64)]
    return row_codes == mine[0] if len(mine) == 1 else np.isin(row_codes, mine)


def popular_of(m: ServingModel, sources: frozenset[str]) -> np.ndarray:
    """The model's most popular rows among songs of ``sources`` (the seeds' catalogs), most
    popular first; all its popular rows when it holds none of them."""
    cache = _POPULAR.setdefault(m, {})
    rows = cache.get(sources)
    if rows is None:
        codes, names = source_codes(m)
        rows = m.popular_rows  # one source: its popular rows, whichever the seeds' source
        mine = None if codes is None else np.isin(
            codes, [i for i, name in enumerate(names) if name in sources])
        if mine is not None and mine.any():
            counts = np.where(mine, np.asarray(m.counts, dtype=np.float64), -np.inf)
            rows = np.argsort(-counts, kind="stable")[:min(int(mine.sum()), len(m.popular_rows))]
        if len(cache) < 64:
            cache[sources] = rows
    return rows
