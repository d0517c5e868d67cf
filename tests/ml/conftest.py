"""Fixtures for recsys.ml tests: tiny synthetic corpora with planted structure."""

from __future__ import annotations

import random

import pytest

N_GENRES = 5
SONGS_PER_GENRE = 20


def genre_of(song_id: int) -> int:
    return song_id // 100


def next_of(song_id: int) -> int:
    """The planted successor: the following song of the same genre (cyclic)."""
    g, j = divmod(song_id, 100)
    return g * 100 + (j + 1) % SONGS_PER_GENRE


def make_planted(n_playlists: int = 500, seed: int = 7) -> list[list[int]]:
    """Playlists within one genre walking the genre's songs in order.

    Song ids are ``genre * 100 + j`` (deliberately non-contiguous).  Each step
    goes to the next song (90%) or skips one (10%), so ``next`` has a known
    answer and ``similar`` has a known cluster.
    """
    rng = random.Random(seed)
    out = []
    for _ in range(n_playlists):
        g = rng.randrange(N_GENRES)
        j = rng.randrange(SONGS_PER_GENRE)
        playlist = []
        for _ in range(rng.randint(6, 14)):
            playlist.append(g * 100 + j)
            j = (j + (1 if rng.random() < 0.9 else 2)) % SONGS_PER_GENRE
        out.append(playlist)
    return out


@pytest.fixture(scope="session")
def planted() -> list[list[int]]:
    return make_planted()


@pytest.fixture(scope="session")
def planted_model(planted):
    from recsys.ml.settings import TrainSettings
    from recsys.ml.train import train

    settings = TrainSettings(vector_size=16, window=2, negative=5, sample=0.0, epochs=30,
                             workers=1, seed=1)
    return train(planted, settings)
