"""A large synthetic catalog in the generic CSV format (data/README.md), for the scale walk.

Usage::

    .venv/bin/python bench/scale_catalog.py var/helper-scale/catalog.csv \
        [--songs 300000] [--playlists 1000000] [--genres 40] [--seed 0]

The project's ``sample`` generator plants the same structure in a fixed 640-song catalog; this
one scales it: ``--genres`` genres of Zipf-popular songs (artists of 8 songs), tags
``genre|mood`` (plus a few long-tail tags), playlists that stay in one genre (15% mix two) with
the sample's length mix (22% single songs, lognormal body ≈7 songs, at most 80) and planted
successors (55% of steps follow one of the song's three preferred next songs). About 5.5 rows
per playlist. Deterministic for a seed; streamed (memory is the song table, not the rows).
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

MOODS = ("energetic", "dark", "happy", "romantic", "chill", "sad")
WORDS = ("Love", "Night", "Fire", "Rain", "Road", "Heart", "Summer", "Dream", "City", "Light",
         "Stars", "Home", "Gold", "Storm", "Blue", "Ocean", "Shadow", "Dance", "Time", "Sky")
FIELDS = ("playlist_id", "position", "song_id", "title", "artist", "tags", "playlist_name")
BATCH = 10_000


class Catalog:
    """Songs (index = external id number), their genre, title, artist, tags and successors."""

    def __init__(self, n_songs: int, n_genres: int, rng: np.random.Generator) -> None:
        self.genre = np.sort(rng.integers(0, n_genres, n_songs))
        starts = np.searchsorted(self.genre, np.arange(n_genres + 1))
        self.ranges = [(int(starts[g]), int(starts[g + 1])) for g in range(n_genres)]
        # Zipf-like popularity within each genre: cumulative weights for inverse-CDF draws
        self.cum = []
        for lo, hi in self.ranges:
            weights = 1.0 / (rng.permutation(hi - lo) + 1.0) ** 1.1
            self.cum.append(np.cumsum(weights) / weights.sum())
        self.artist_of = np.arange(n_songs) // 8
        w = rng.integers(0, len(WORDS), (n_songs, 2))
        self.title = [f"{WORDS[a]} {WORDS[b]} {i % 997}" for i, (a, b) in enumerate(w)]
        mood = rng.integers(0, len(MOODS), n_songs)
        rare = rng.integers(0, 5000, n_songs)
        self.tags = [f"g{int(g)}|{MOODS[m]}" + (f"|tail{r}" if r < 500 else "")
                     for g, m, r in zip(self.genre, mood, rare, strict=True)]
        self.successors = np.empty((n_songs, 3), dtype=np.int64)
        for g, (lo, hi) in enumerate(self.ranges):
            n = hi - lo
            if n == 0:
                continue
            same_artist = (self.artist_of[lo:hi] * 8 + rng.integers(0, 8, n)).clip(lo, hi - 1)
            self.successors[lo:hi, 0] = same_artist
            self.successors[lo:hi, 1:] = self.draw(g, rng, (n, 2))

    def draw(self, genre: int, rng: np.random.Generator, size) -> np.ndarray:
        """Popularity-weighted songs of ``genre``."""
        lo, hi = self.ranges[genre]
        found = np.searchsorted(self.cum[genre], rng.random(size))
        return lo + np.minimum(found, hi - lo - 1)


def lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """The sample generator's length mix: 22% single songs, else lognormal within [2, 80]."""
    body = np.clip(np.round(np.exp(rng.normal(1.7, 0.75, n))), 2, 80).astype(np.int64)
    return np.where(rng.random(n) < 0.22, 1, body)


def playlist(cat: Catalog, rng: np.random.Generator, n_genres: int, length: int) -> list[int]:
    """One playlist's song numbers."""
    mix = rng.choice(n_genres, 2, replace=False) if rng.random() < 0.15 else [rng.integers(
        n_genres)]
    genre = int(mix[0])
    current = int(cat.draw(genre, rng, None))
    order = [current]
    rolls = rng.random((length, 3))
    for step in range(1, length):
        if len(mix) > 1 and rolls[step, 0] < 0.3:
            genre = int(mix[1] if genre == mix[0] else mix[0])
        if rolls[step, 1] < 0.55 and cat.genre[current] == genre:
            current = int(cat.successors[current, int(rolls[step, 2] * 3)])
        else:
            current = int(cat.draw(genre, rng, None))
        order.append(current)
    return order


def write(path: Path, n_songs: int, n_playlists: int, n_genres: int, seed: int) -> int:
    """Write the CSV; returns the number of rows."""
    rng = np.random.default_rng(seed)
    cat = Catalog(n_songs, n_genres, rng)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(FIELDS)
        for start in range(0, n_playlists, BATCH):
            n = min(BATCH, n_playlists - start)
            batch = []
            for offset, length in enumerate(lengths(rng, n)):
                p = start + offset
                for pos, s in enumerate(playlist(cat, rng, n_genres, int(length))):
                    # titles, artists and tags on every row, as a real export sends them
                    batch.append((f"pl{p:07d}", pos, f"trk{s:07d}", cat.title[s],
                                  f"Artist {cat.artist_of[s]}", cat.tags[s],
                                  f"Mix {p}" if pos == 0 else ""))
            out.writerows(batch)
            rows += len(batch)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--songs", type=int, default=300_000)
    parser.add_argument("--playlists", type=int, default=1_000_000)
    parser.add_argument("--genres", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rows = write(args.out, args.songs, args.playlists, args.genres, args.seed)
    print(f"{args.out}: {rows:,} rows, {args.playlists:,} playlists, {args.songs:,} songs "
          f"in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
