"""Restartable playlist corpora for gensim.

gensim iterates the corpus once for the vocabulary scan and once per epoch, so
a plain generator is not enough.  :class:`PlaylistCorpus` wraps a *callable*
that returns a fresh iterator of batches (lists of playlists, each a list of
int song ids) every time it is called -- that is all the DB layer has to
provide to stream rows without loading the whole table.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

Batches = Callable[[], Iterable[Sequence[Sequence[int]]]]


def token(song_id: int) -> str:
    """The word2vec token of a song id."""
    return str(int(song_id))


class PlaylistCorpus:
    """Restartable iterable of playlists as string token lists.

    Args:
        batches: zero-argument callable returning an iterable of batches; each
            batch is a sequence of playlists (sequences of int song ids).
        min_length: playlists shorter than this are skipped (1-song playlists
            carry no co-occurrence signal for word2vec).
    """

    def __init__(self, batches: Batches, min_length: int = 2) -> None:
        self._batches = batches
        self.min_length = min_length

    @classmethod
    def from_playlists(cls, playlists: Sequence[Sequence[int]],
                       batch_size: int = 10_000, min_length: int = 2) -> PlaylistCorpus:
        """Corpus over an in-memory sequence of playlists (re-read every pass)."""

        def batches() -> Iterator[Sequence[Sequence[int]]]:
            for start in range(0, len(playlists), batch_size):
                yield playlists[start:start + batch_size]

        return cls(batches, min_length=min_length)

    def iter_ids(self) -> Iterator[list[int]]:
        """Yield playlists as lists of int ids (length-filtered)."""
        for batch in self._batches():
            for playlist in batch:
                if len(playlist) >= self.min_length:
                    yield [int(s) for s in playlist]

    def __iter__(self) -> Iterator[list[str]]:
        for batch in self._batches():
            for playlist in batch:
                if len(playlist) >= self.min_length:
                    yield [str(s) for s in playlist]


def as_corpus(playlists: PlaylistCorpus | Sequence[Sequence[int]] | Batches) -> PlaylistCorpus:
    """Accept a corpus, a sequence of playlists, or a batch callable."""
    if isinstance(playlists, PlaylistCorpus):
        return playlists
    if callable(playlists):
        return PlaylistCorpus(playlists)
    return PlaylistCorpus.from_playlists(playlists)


def write_corpus_file(playlists: Iterable[Sequence[int]] | PlaylistCorpus,
                      path: str | os.PathLike[str], min_length: int = 2) -> tuple[int, int]:
    """Write one space-separated playlist per line (gensim ``corpus_file`` format).

    Returns ``(n_playlists, n_tokens)`` written.
    """
    source = playlists.iter_ids() if isinstance(playlists, PlaylistCorpus) else playlists
    n_lines = n_tokens = 0
    with open(path, "w", encoding="ascii") as fh:
        for playlist in source:
            if len(playlist) < min_length:
                continue
            fh.write(" ".join(str(int(s)) for s in playlist))
            fh.write("\n")
            n_lines += 1
            n_tokens += len(playlist)
    return n_lines, n_tokens


@dataclass(frozen=True)
class CorpusFile:
    """A corpus already written by :func:`export_corpus`: training reads only this file (the
    job exports it from one database snapshot, closed before gensim starts)."""

    path: Path
    playlists: int
    tokens: int
    min_length: int = 2

    def corpus(self, batch_size: int = 10_000) -> PlaylistCorpus:
        """The file as a restartable corpus (for ``use_corpus_file: false``), read per pass."""

        def batches() -> Iterator[list[list[int]]]:
            batch: list[list[int]] = []
            with open(self.path, encoding="ascii") as fh:
                for line in fh:
                    batch.append([int(t) for t in line.split()])
                    if len(batch) == batch_size:
                        yield batch
                        batch = []
            if batch:
                yield batch

        return PlaylistCorpus(batches, min_length=self.min_length)


def export_corpus(playlists: Iterable[Sequence[int]] | PlaylistCorpus,
                  path: str | os.PathLike[str], min_length: int = 2) -> CorpusFile:
    """:func:`write_corpus_file`, described as a :class:`CorpusFile`."""
    if isinstance(playlists, PlaylistCorpus):
        min_length = max(min_length, playlists.min_length)
    n_lines, n_tokens = write_corpus_file(playlists, path, min_length=min_length)
    return CorpusFile(Path(path), n_lines, n_tokens, min_length)
