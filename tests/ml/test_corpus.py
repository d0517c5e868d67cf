from __future__ import annotations

from recsys.ml.corpus import PlaylistCorpus, as_corpus, write_corpus_file


def test_corpus_is_restartable_and_streams_batches():
    calls = []

    def batches():
        calls.append(1)
        yield [[1, 2, 3], [4]]
        yield [[5, 6]]

    corpus = PlaylistCorpus(batches)
    first, second = list(corpus), list(corpus)
    assert first == second == [["1", "2", "3"], ["5", "6"]]  # 1-song playlist dropped
    assert len(calls) == 2
    assert list(corpus.iter_ids()) == [[1, 2, 3], [5, 6]]


def test_as_corpus_accepts_lists_and_callables():
    data = [[10, 11], [12, 13, 14]]
    assert list(as_corpus(data)) == [["10", "11"], ["12", "13", "14"]]
    assert list(as_corpus(lambda: [data])) == list(as_corpus(data))
    small = PlaylistCorpus.from_playlists(data, batch_size=1)
    assert list(small) == list(as_corpus(data))


def test_write_corpus_file(tmp_path):
    path = tmp_path / "c.txt"
    n_lines, n_tokens = write_corpus_file([[1, 2], [3], [4, 5, 6]], path)
    assert (n_lines, n_tokens) == (2, 5)
    assert path.read_text() == "1 2\n4 5 6\n"
