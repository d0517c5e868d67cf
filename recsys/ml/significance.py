"""Paired comparison of two models measured on the same queries.

The gate asks whether a candidate is at least as good as production. Both are scored on the
same held-out queries, so the useful quantity is the mean of the per-query differences and
its standard error: most queries get the same answer from both models, and what varies is
which queries they disagree on. Queries of one playlist are not independent (a station's
log is easy or hard for every model), so the standard error is cluster-robust over playlists
(the "sandwich" estimator with the usual ``G / (G - 1)`` small-sample factor).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PairedDifference:
    """``new - old`` averaged over queries, with its standard error."""

    mean: float
    se: float
    n: int

    def within(self, z: float) -> bool:
        """Whether ``new`` is no more than ``z`` standard errors below ``old``."""
        return self.mean >= -z * self.se - 1e-12


def paired_difference(new: np.ndarray, old: np.ndarray,
                      clusters: np.ndarray | None = None) -> PairedDifference:
    """Mean of ``new - old`` and its standard error, clustered by ``clusters`` if given.

    Parameters
    ----------
    new, old
        Per-query values of the two models (e.g. hits 0/1), aligned.
    clusters
        Group label of each query (e.g. the playlist it comes from); ``None`` treats every
        query as its own group.
    """
    new, old = np.asarray(new, dtype=np.float64), np.asarray(old, dtype=np.float64)
    if new.shape != old.shape or new.ndim != 1:
        raise ValueError("new and old must be aligned 1-d arrays")
    n = len(new)
    if n == 0:
        return PairedDifference(0.0, float("nan"), 0)
    diff = new - old
    mean = float(diff.mean())
    labels = np.arange(n) if clusters is None else np.asarray(clusters)
    if len(labels) != n:
        raise ValueError("clusters must label every query")
    _, group = np.unique(labels, return_inverse=True)
    g = int(group.max()) + 1
    if g < 2:
        return PairedDifference(mean, float("nan"), n)
    residual = np.bincount(group, weights=diff - mean, minlength=g)
    var = g / (g - 1) * float((residual**2).sum()) / n**2
    return PairedDifference(mean, float(np.sqrt(var)), n)


def transition_playlists(playlists: Sequence[Sequence[int]]) -> np.ndarray:
    """Index of the playlist of each transition, in the order of ``transitions_of``."""
    lengths = np.array([max(len(p) - 1, 0) for p in playlists], dtype=np.int64)
    return np.repeat(np.arange(len(playlists)), lengths)
