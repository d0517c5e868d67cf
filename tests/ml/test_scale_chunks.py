"""Evaluation's dense score blocks stay bounded on large catalogs (scale review)."""

from __future__ import annotations

import numpy as np

from recsys.ml.base import CHUNK_CELLS, MatrixRecommender, chunk_rows


class _Recorded(MatrixRecommender):
    """Deterministic scores with many ties; records the size of every block it scores."""

    def __init__(self, n_items: int) -> None:
        super().__init__(np.arange(10, 10 + n_items))
        self.blocks: list[int] = []

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        self.blocks.append(len(rows) * self.n_items)
        cols = np.arange(self.n_items, dtype=np.int64)
        return ((rows[:, None] * 7919 + cols * 104_729) % 997).astype(np.float32)


def test_blocks_stay_within_the_cell_budget_on_a_large_catalog():
    n_items = 4 * CHUNK_CELLS // 1024  # 1,024 seeds a block would be 4x the budget
    rec = _Recorded(n_items)
    seeds = np.arange(0, 3 * chunk_rows(n_items) + 5, dtype=np.int64)
    rows, scores = rec.topk_rows(seeds, 10)
    assert max(rec.blocks) <= CHUNK_CELLS
    assert sum(rec.blocks) == len(seeds) * n_items  # every seed scored once
    # the same answers as one seed at a time (ties included: argpartition + stable sort)
    one = _Recorded(n_items)
    rows_1, scores_1 = one.topk_rows(seeds, 10, chunk=1)
    assert np.array_equal(rows, rows_1) and np.array_equal(scores, scores_1)
    assert not (rows == seeds[:, None]).any()  # the seed itself is never its own answer


def test_small_catalogs_keep_blocks_of_1024_seeds():
    assert chunk_rows(5_000) == 1024
    assert chunk_rows(CHUNK_CELLS) == 1 and chunk_rows(10 * CHUNK_CELLS) == 1
