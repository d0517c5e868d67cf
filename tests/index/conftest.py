"""Fixtures for the index tests: small seeded clustered datasets."""

from __future__ import annotations

import numpy as np
import pytest


def clustered(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    """Gaussian mixture: ``clusters`` centres, isotropic noise of std ``spread``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim))
    labels = rng.integers(0, clusters, size=n)
    points = centres[labels] + spread * rng.normal(size=(n, dim))
    points *= rng.uniform(0.5, 2.0, size=(n, 1))  # varied norms matter for "dot"
    return points.astype(np.float32)


@pytest.fixture(scope="session")
def vectors() -> np.ndarray:
    """1,000 x 16 clustered item vectors."""
    return clustered(1000, 16, 20, 0.6, seed=7)


@pytest.fixture
def sqlite_engine(sqlite_url):
    """An engine on a fresh migrated SQLite database only."""
    from recsys.db.session import make_engine

    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()
