"""Synthetic playlists with planted structure, for demos and for testing recommenders.

The catalog has ``n_genres`` genres, each with artists, each artist with songs. Every song is
tagged with its genre and a mood (moods depend on the genre). Within a genre, song popularity
is Zipf-like. Playlists mostly stay in one genre (some mix two), have a realistic length mix
(many single songs, a lognormal body, a long tail) and a sequential structure: each song has
a few fixed preferred successors (same genre, often the same artist), so the next song is
predictable. A recommender trained on these playlists should put songs of one genre together.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from recsys.ingest.model import ImportResult, IngestError, ParsedCatalog
from recsys.ingest.tabular import OPTIONAL, REQUIRED, TAG_SEPARATOR, collect

SAMPLE_SOURCE = "sample"
GENRES = ("rock", "pop", "hiphop", "jazz", "country", "electronic", "classical", "metal")
MOODS = {
    "rock": ("energetic", "dark"), "pop": ("happy", "romantic"),
    "hiphop": ("energetic", "dark"), "jazz": ("chill", "romantic"),
    "country": ("sad", "happy"), "electronic": ("energetic", "chill"),
    "classical": ("chill", "sad"), "metal": ("dark", "energetic"),
}
_ADJ = ("Black", "Silver", "Velvet", "Electric", "Lonely", "Golden", "Neon", "Wild", "Quiet",
        "Broken", "Crimson", "Midnight", "Paper", "Rusty", "Hollow", "Lucky")
_NOUN = ("Wolves", "Rivers", "Pilots", "Ghosts", "Echoes", "Harbors", "Lions", "Satellites",
         "Roses", "Engines", "Mirrors", "Owls", "Canyons", "Comets", "Saints", "Tides")
_WORDS = ("Love", "Night", "Fire", "Rain", "Road", "Heart", "Summer", "Dream", "City", "Light",
          "Stars", "Home", "Gold", "Storm", "Blue", "Ocean", "Shadow", "Dance", "Time", "Sky")


@dataclass(frozen=True)
class SampleSong:
    """A synthetic song: ``tags`` is ``(genre, mood)``; ``popularity`` is its weight in genre."""

    external_id: str
    title: str
    artist: str
    genre: str
    mood: str
    tags: tuple[str, ...]
    popularity: float


@dataclass(frozen=True)
class SamplePlaylist:
    """A synthetic playlist: ``songs`` are song external ids in order; ``genres`` drawn from."""

    external_id: str
    name: str
    genres: tuple[str, ...]
    songs: tuple[str, ...]


@dataclass
class SampleData:
    """Output of :func:`generate_sample`.

    Attributes:
        seed: the seed used.
        genres: genre names (also the genre tags).
        songs: all songs (``external_id``, ``title``, ``artist``, ``genre``, ``mood``,
            ``tags``, ``popularity``), grouped by genre then artist.
        playlists: the playlists in order (``external_id``, ``name``, ``genres``, ``songs``).
        song_genre: song external id -> genre (the ground truth a recommender should recover).
        successors: song external id -> its preferred next songs (the planted "next" signal).
    """

    seed: int
    genres: tuple[str, ...]
    songs: list[SampleSong]
    playlists: list[SamplePlaylist]
    song_genre: dict[str, str] = field(default_factory=dict)
    successors: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def rows(self) -> Iterator[dict[str, Any]]:
        """Item rows of the generic playlist format (see ``data/README.md``)."""
        by_id = {s.external_id: s for s in self.songs}
        for pl in self.playlists:
            for pos, sid in enumerate(pl.songs):
                song = by_id[sid]
                yield {"playlist_id": pl.external_id, "position": pos, "song_id": sid,
                       "title": song.title, "artist": song.artist, "tags": list(song.tags),
                       "playlist_name": pl.name}

    def to_catalog(self, source: str = SAMPLE_SOURCE) -> ParsedCatalog:
        """Validate the rows with the csv/jsonl loader into a catalog of kind ``sample``."""
        numbered = ((i + 2, row) for i, row in enumerate(self.rows()))
        return collect(numbered, f"sample(seed={self.seed})", source, "sample")

    def write(self, path: str | Path) -> int:
        """Write the rows as ``.csv`` or ``.jsonl`` (by extension); returns the row count."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".csv", ".jsonl"):
            raise IngestError(path, None, "output must end with .csv or .jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        count = 0
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n") if suffix == ".csv" else None
            if writer is not None:
                writer.writerow(REQUIRED + OPTIONAL)
            for row in self.rows():
                count += 1
                if writer is None:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                else:
                    row["tags"] = TAG_SEPARATOR.join(row["tags"])
                    writer.writerow([row[k] for k in REQUIRED + OPTIONAL])
        return count


def _catalog(rng: random.Random, seed: int, n_genres: int, artists: int, per_artist: int
             ) -> tuple[list[SampleSong], dict[str, list[SampleSong]]]:
    names = [f"{a} {n}" for a, n in itertools.product(_ADJ, _NOUN)]
    rng.shuffle(names)
    songs: list[SampleSong] = []
    by_genre: dict[str, list[SampleSong]] = {}
    for g in range(n_genres):
        genre = GENRES[g % len(GENRES)] + ("" if g < len(GENRES) else str(g // len(GENRES)))
        n = artists * per_artist
        ranks = list(range(n))
        rng.shuffle(ranks)
        group = []
        for a in range(artists):
            artist = names[(g * artists + a) % len(names)]
            for k in range(per_artist):
                idx = len(songs)
                words = rng.sample(_WORDS, 2)
                mood = rng.choice(MOODS.get(genre, ("happy", "sad")))
                song = SampleSong(
                    external_id=f"s{seed}-{idx:05d}", title=f"{words[0]} {words[1]}",
                    artist=artist, genre=genre, mood=mood, tags=(genre, mood),
                    popularity=1.0 / (ranks[a * per_artist + k] + 1) ** 1.1,
                )
                songs.append(song)
                group.append(song)
        by_genre[genre] = group
    return songs, by_genre


class _Picker:
    """Popularity-weighted draws within one genre."""

    def __init__(self, songs: list[SampleSong]) -> None:
        self.songs = songs
        self.cum = list(itertools.accumulate(s.popularity for s in songs))

    def draw(self, rng: random.Random) -> SampleSong:
        return self.songs[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


def _length(rng: random.Random) -> int:
    if rng.random() < 0.22:
        return 1
    return max(2, min(80, round(math.exp(rng.gauss(1.7, 0.75)))))


def generate_sample(n_playlists: int, seed: int = 0, *, n_genres: int = 8,
                    artists_per_genre: int = 10, songs_per_artist: int = 8) -> SampleData:
    """Generate a deterministic synthetic catalog and ``n_playlists`` playlists.

    The same seed gives the same data; with the same seed, the first N playlists of a larger
    sample equal a sample of N. Pure: no I/O, no database.
    """
    if n_playlists < 0 or n_genres < 1 or artists_per_genre < 1 or songs_per_artist < 1:
        raise ValueError("counts must be positive")
    rng = random.Random(seed)
    songs, by_genre = _catalog(rng, seed, n_genres, artists_per_genre, songs_per_artist)
    pickers = {g: _Picker(s) for g, s in by_genre.items()}
    by_artist: dict[str, list[SampleSong]] = {}
    for song in songs:
        by_artist.setdefault(song.artist, []).append(song)
    successors: dict[str, tuple[SampleSong, ...]] = {}
    for song in songs:
        same = [s for s in by_artist[song.artist] if s is not song] or [song]
        nxt = [rng.choice(same)] + [pickers[song.genre].draw(rng) for _ in range(2)]
        successors[song.external_id] = tuple(nxt)
    genres = tuple(by_genre)
    prng = random.Random(f"{seed}-playlists")
    playlists = []
    for i in range(n_playlists):
        mix = prng.sample(genres, 2) if prng.random() < 0.15 else [prng.choice(genres)]
        genre = mix[0]
        current = pickers[genre].draw(prng)
        order = [current]
        for _ in range(_length(prng) - 1):
            if len(mix) > 1 and prng.random() < 0.3:
                genre = mix[1] if genre == mix[0] else mix[0]
            roll = prng.random()
            if roll < 0.55 and current.genre == genre:
                current = prng.choices(successors[current.external_id], (6, 3, 1))[0]
            elif roll < 0.7 and current.genre == genre:
                current = prng.choice(by_artist[current.artist])
            else:
                current = pickers[genre].draw(prng)
            order.append(current)
        name = " + ".join(mix) + f" mix #{i + 1}"
        playlists.append(SamplePlaylist(f"p{seed}-{i:06d}", name, tuple(mix),
                                        tuple(s.external_id for s in order)))
    return SampleData(
        seed=seed, genres=genres, songs=songs, playlists=playlists,
        song_genre={s.external_id: s.genre for s in songs},
        successors={k: tuple(s.external_id for s in v) for k, v in successors.items()},
    )


def import_sample(engine: Engine, n_playlists: int, seed: int = 0, *,
                  source: str = SAMPLE_SOURCE, progress: bool = True) -> ImportResult:
    """Generate a sample and import it (same loader as csv/jsonl; idempotent per seed)."""
    from recsys.ingest.importers import import_catalog

    catalog = generate_sample(n_playlists, seed).to_catalog(source)
    return import_catalog(engine, catalog, progress=progress)
