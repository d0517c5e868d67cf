"""The gate's fast paths give what the served formulas give: bundle ``next`` scores from the
stored counts only, and the holdout read without the other playlists' items."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sqlalchemy import event

from recsys.index.registry import promote
from recsys.jobs import data, evaluation
from recsys.jobs.evaluation import BundleNext
from recsys.jobs.gate import gate
from recsys.jobs.training import train_and_bundle
from recsys.recommend import model as model_mod
from recsys.recommend.model import ServingModel


@pytest.fixture
def two_bundles(small_db, store, quick_settings):
    """Production (promoted) and a candidate trained with other settings."""
    first = train_and_bundle(small_db, store, quick_settings, holdout_frac=0.2, backend="exact")
    promote(small_db, store, first.version)
    other = quick_settings.replace(vector_size=8, epochs=3, next_cooc_weight=0.7)
    second = train_and_bundle(small_db, store, other, holdout_frac=0.2, backend="exact")
    return first.version, second.version


def _served_references(served: ServingModel, rows: np.ndarray, sessions: list[np.ndarray]):
    every = np.arange(len(served))
    return (served.next_score_matrix(rows),
            [served.next_scores(s, every) for s in sessions])


def test_bundle_next_scores_are_the_served_ones_bit_for_bit(two_bundles, store, monkeypatch):
    for version in two_bundles:
        served = ServingModel.open(store.path(version))
        assert served.transition_weight and served.cooc_weight  # both count terms present
        rng = np.random.default_rng(0)
        # more than one SCORE_BLOCK, the most played songs (most counts) and random ones
        rows = np.concatenate([np.argsort(-np.asarray(served.counts))[:40],
                               rng.choice(len(served), 40, replace=False)])
        sessions = [rows[:1], rows[:2], rows[40:47], rows[:50], rows[30:80]]
        matrix, session_scores = _served_references(served, rows, sessions)
        # the fast path must not fall back on the dense rows of every song
        monkeypatch.setattr(model_mod.ServingModel, "next_score_matrix", _refused)
        monkeypatch.setattr(evaluation, "dense_rows", _refused)
        fast = BundleNext(served)
        np.testing.assert_array_equal(fast.score_rows(rows), matrix)
        for seeds, expected in zip(sessions, session_scores, strict=True):
            got = fast.score_seeds(seeds)
            assert got.dtype == np.float32
            np.testing.assert_array_equal(got, expected)
        monkeypatch.undo()


def _refused(*args, **kwargs):
    raise AssertionError("dense count rows of every song")


def test_tables_with_duplicate_entries_are_read_as_the_server_reads_them(two_bundles, store):
    served = ServingModel.open(store.path(two_bundles[0]))
    t = served.transitions
    row = int(np.flatnonzero(np.diff(t.indptr))[0])  # a row with a stored count
    a = int(t.indptr[row])
    indptr = np.asarray(t.indptr).copy()
    indptr[row + 1:] += 1
    indices = np.insert(np.asarray(t.indices), a, t.indices[a])  # its first column twice
    values = np.insert(np.asarray(t.data), a, 2.0)
    served.transitions = sp.csr_matrix((values, indices, indptr), shape=t.shape)
    assert not served.transitions.has_canonical_format
    fast = BundleNext(served)
    rows = np.array([row, 0, 5])
    np.testing.assert_array_equal(fast.score_rows(rows), served.next_score_matrix(rows))
    assert not fast.sparse


def test_the_gate_decides_as_with_the_dense_served_scores(small_db, store, two_bundles,
                                                          monkeypatch):
    fast = gate(small_db, store, two_bundles[1], holdout_frac=0.2)
    dense_seeds = BundleNext.score_seeds

    def served_session(self, rows):  # the former path: dense count rows of every song
        self.sparse = False
        return dense_seeds(self, rows)

    monkeypatch.setattr(BundleNext, "score_rows",
                        lambda self, rows: self.m.next_score_matrix(np.asarray(rows)))
    monkeypatch.setattr(BundleNext, "score_seeds", served_session)
    reference = gate(small_db, store, two_bundles[1], holdout_frac=0.2)
    assert (fast.promote, fast.reason) == (reference.promote, reference.reason)
    assert fast.candidate == reference.candidate and fast.production == reference.production
    assert fast.differences == reference.differences


def test_the_holdout_is_read_without_the_other_playlists_items(sample_engine):
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "playlist_items" in statement:
            statements.append(statement)

    event.listen(sample_engine, "before_cursor_execute", seen)
    try:
        holdout, frac = data.load_holdout(sample_engine, holdout_frac=0.1)
    finally:
        event.remove(sample_engine, "before_cursor_execute", seen)
    assert holdout and statements
    assert not any("BETWEEN" in s.upper() for s in statements)
    # the same playlists, in the same order, as every playlist read and filtered here
    every = data._iter_bucketed(sample_engine, batch_size=5000, source=None,
                                holdout_frac=frac, part="all")
    assert holdout == [songs for batch in every for bucket, songs in batch
                       if data._held_out(bucket, frac)]
