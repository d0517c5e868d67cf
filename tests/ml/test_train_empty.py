"""An empty corpus is refused with one message, whoever wrote the corpus file."""

from __future__ import annotations

import pytest

from recsys.ml.corpus import PlaylistCorpus, export_corpus
from recsys.ml.settings import TrainSettings
from recsys.ml.train import train

SHORT = [[1, 2], [3, 4], [5]]


def _message(corpus, settings=None) -> str:
    with pytest.raises(ValueError) as err:
        train(corpus, settings or TrainSettings(epochs=1, workers=1))
    return str(err.value)


def test_written_and_self_written_corpora_say_the_same(tmp_path):
    written = export_corpus(PlaylistCorpus.from_playlists(SHORT, min_length=3),
                            tmp_path / "corpus.txt")
    assert written.playlists == 0
    from_file = _message(written)
    self_written = _message(PlaylistCorpus.from_playlists(SHORT, min_length=3),
                            TrainSettings(epochs=1, workers=1, use_corpus_file=True))
    assert from_file == self_written == "corpus has no playlist with >= 3 songs"


def test_no_playlist_at_all_names_the_default_length(tmp_path):
    written = export_corpus([], tmp_path / "corpus.txt")
    assert _message(written) == _message([]) == "corpus has no playlist with >= 2 songs"
