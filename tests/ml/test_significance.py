"""Paired differences and their (clustered) standard errors, by hand and by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recsys.ml.significance import PairedDifference, paired_difference, transition_playlists


def test_unclustered_equals_the_classical_standard_error():
    new, old = np.array([1, 0, 1, 1]), np.array([0, 0, 1, 0])
    got = paired_difference(new, old)
    diff = new - old  # [1, 0, 0, 1]
    assert got.mean == pytest.approx(0.5) and got.n == 4
    assert got.se == pytest.approx(diff.std(ddof=1) / math.sqrt(4))  # sqrt(1/12)
    assert got.se == pytest.approx(math.sqrt(1 / 12))


def test_clustered_by_hand():
    new, old = np.array([1, 0, 1, 1]), np.array([0, 0, 1, 0])
    # residuals 0.5, -0.5, -0.5, 0.5; clusters {0,1,2} and {3}: sums -0.5 and 0.5
    got = paired_difference(new, old, clusters=np.array([7, 7, 7, 9]))
    assert got.se == pytest.approx(math.sqrt(2 * 0.5 / 16))  # G/(G-1) * sum^2 / n^2
    # residuals cancel inside each cluster: no between-cluster variation
    assert paired_difference(new, old, np.array([0, 0, 1, 1])).se == pytest.approx(0.0)


def test_identical_models_have_zero_difference():
    hits = np.array([1, 0, 0, 1, 1])
    got = paired_difference(hits, hits)
    assert got.mean == 0 and got.se == 0 and got.within(0)


def test_degenerate_inputs():
    assert math.isnan(paired_difference(np.array([]), np.array([])).se)
    assert math.isnan(paired_difference(np.array([1, 0]), np.array([0, 0]), [3, 3]).se)
    with pytest.raises(ValueError, match="aligned"):
        paired_difference(np.array([1, 0]), np.array([1]))
    with pytest.raises(ValueError, match="label every"):
        paired_difference(np.array([1, 0]), np.array([1, 1]), clusters=np.array([0]))


def test_within():
    assert PairedDifference(-0.01, 0.01, 100).within(1.0)
    assert not PairedDifference(-0.01, 0.01, 100).within(0.5)
    assert PairedDifference(0.002, 0.01, 100).within(0.0)


def test_transition_playlists():
    np.testing.assert_array_equal(transition_playlists([[1, 2, 3], [4], [5, 6], []]), [0, 0, 2])


def test_clustered_interval_has_its_nominal_coverage_and_the_naive_one_does_not():
    """Two equally good models on playlists whose queries share a per-playlist difficulty:
    the clustered 95% interval of the difference covers 0 about 95% of the time; treating
    queries as independent covers it far less often."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(5, 40, size=150)
    clusters = np.repeat(np.arange(len(sizes)), sizes)
    covered = {"clustered": 0, "naive": 0}
    reps = 400
    for _ in range(reps):
        # per playlist: which model it favours, shared by all its queries
        tilt = np.repeat(rng.normal(0, 0.25, len(sizes)), sizes)
        p = 0.3 + np.clip(tilt, -0.3, 0.3)
        new = rng.random(len(p)) < p
        old = rng.random(len(p)) < 0.6 - p  # mean 0.3 for both models
        for name, groups in (("clustered", clusters), ("naive", None)):
            d = paired_difference(new, old, groups)
            covered[name] += abs(d.mean) <= 1.96 * d.se
    assert 0.91 <= covered["clustered"] / reps <= 0.98
    assert covered["naive"] / reps < 0.8
