"""Read-only CSR count tables of a bundle (transitions, co-occurrence), read row by row.

The serving path reads a few seeds' rows at a time; these helpers read the CSR arrays
directly instead of building scipy sub-matrices (see the tests in ``test_fast_paths``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.index.bundle import Bundle

#: Several seeds' rows are summed in a dense row of every column when they hold at least
#: 1/DENSE_RATIO entries per column, else by sorting their entries.
DENSE_RATIO = 8


def csr_table(bundle: Bundle, name: str, n: int) -> sp.csr_matrix:
    """The ``n x n`` table ``name`` of ``bundle`` (memory-mapped arrays), indices sorted."""
    mat = sp.csr_matrix(
        (bundle.array(f"{name}.data"), bundle.array(f"{name}.indices"),
         bundle.array(f"{name}.indptr")),
        shape=(n, n),
    )
    # row look-ups below binary-search each row's columns (build_bundle writes them sorted)
    return mat if mat.has_sorted_indices else mat.sorted_indices()


def row_sums(table: sp.csr_matrix, seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-zero columns (ascending) of ``table[seeds].sum(axis=0)`` and their values.

    Reads the CSR arrays directly: ``table[seeds]`` would build a new sparse matrix and the
    sum a dense row of every column (done here only when the seeds' rows hold that many
    entries: ``DENSE_RATIO``).
    """
    indptr, indices, data = table.indptr, table.indices, table.data
    if len(seeds) == 1:
        start, end = indptr[seeds[0]], indptr[seeds[0] + 1]
        cols, vals = indices[start:end], data[start:end]
    else:
        parts = [(indptr[s], indptr[s + 1]) for s in seeds.tolist()]
        cols = np.concatenate([indices[a:b] for a, b in parts])
        vals = np.concatenate([data[a:b] for a, b in parts])
        if len(cols) * DENSE_RATIO >= table.shape[1]:  # e.g. many popular seeds: summed in
            # a dense row, linear in entries + columns (sorting 830,000 entries of 100 seeds
            # took 85 ms at 250,000 songs, this 10 ms; docs/benchmarks.md §17)
            sums = np.bincount(cols, weights=vals, minlength=table.shape[1]).astype(data.dtype)
            cols = np.flatnonzero(sums)
            return cols.astype(np.int64), sums[cols]
        cols, inverse = np.unique(cols, return_inverse=True)
        vals = np.bincount(inverse, weights=vals, minlength=len(cols)).astype(data.dtype)
    keep = vals != 0
    return cols[keep].astype(np.int64), vals[keep]


def gather(table: sp.csr_matrix, seeds: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Dense ``table[seeds][:, rows]`` (``len(seeds) x len(rows)``) from the CSR arrays."""
    indptr, indices, data = table.indptr, table.indices, table.data
    out = np.zeros((len(seeds), len(rows)), dtype=data.dtype)
    for i, s in enumerate(seeds.tolist()):
        cols = indices[indptr[s]:indptr[s + 1]]  # sorted (bundles store sorted indices)
        if len(cols) == 0:
            continue
        pos = np.searchsorted(cols, rows)
        pos[pos == len(cols)] = 0
        hit = cols[pos] == rows
        out[i, hit] = data[indptr[s] + pos[hit]]
    return out
