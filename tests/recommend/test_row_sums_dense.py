"""Summing many popular seeds' count rows: linear, not a sort of their entries (100 of the most
played songs held 830,000 co-occurrence entries at 250,000 songs: 85 ms to sort, 10 ms summed
in a dense row; bench/scale_serve.py, docs/benchmarks.md §17)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.recommend import csr
from recsys.recommend.csr import row_sums

N = 4000


@pytest.fixture(scope="module")
def table() -> sp.csr_matrix:
    """Counts where rows 0-19 are popular (≈ 1,000 columns each), the rest hold 0-3."""
    rng = np.random.default_rng(11)
    rows, cols = [], []
    for r in range(N):
        width = 1000 if r < 20 else int(rng.integers(0, 4))
        picked = rng.choice(N, size=width, replace=False)
        rows += [r] * width
        cols += picked.tolist()
    data = rng.integers(1, 6, size=len(rows)).astype(np.float32)
    mat = sp.csr_matrix((data, (rows, cols)), shape=(N, N), dtype=np.float32)
    mat.sort_indices()
    return mat


def expected(table, seeds):
    dense = np.asarray(table[seeds].sum(axis=0)).ravel()
    return np.flatnonzero(dense).tolist(), dense[np.flatnonzero(dense)].tolist()


@pytest.mark.parametrize("seeds", [list(range(20)), [0, 3], list(range(100, 150)), [500, 501]])
def test_both_ways_match_scipy(table, seeds):
    seeds = np.asarray(seeds)
    cols, values = row_sums(table, seeds)
    assert (cols.tolist(), values.tolist()) == expected(table, seeds)
    assert cols.dtype == np.int64 and values.dtype == table.data.dtype


def test_popular_seeds_are_summed_without_sorting_their_entries(table, monkeypatch):
    seeds = np.arange(20)  # 20,000 entries over 4,000 columns
    want = expected(table, seeds)

    def refuse(*_args, **_kwargs):
        raise AssertionError("the seeds' entries were sorted")

    for name in ("unique", "sort", "argsort"):
        monkeypatch.setattr(csr.np, name, refuse)
    cols, values = row_sums(table, seeds)
    assert (cols.tolist(), values.tolist()) == want
