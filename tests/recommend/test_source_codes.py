"""Each row's source without decoding every row: a served model's first request paid 0.18 s
decoding 250,000 source strings (bench/scale_serve.py, docs/benchmarks.md §17)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index.bundle import StringColumn
from recsys.recommend.sources import popular_of, same_source, source_codes

VALUES = ["radio", "a", "ab", "Ünïcode", "radio", "", "ab", "zeta-long-source-name", "a"]


def column(values: list[str]) -> StringColumn:
    return StringColumn(*StringColumn.encode(values))


class FakeModel:
    """What :mod:`recsys.recommend.sources` reads of a model."""

    def __init__(self, sources: list[str]) -> None:
        self.columns = {"source": column(sources)}
        self.counts = np.arange(len(sources), dtype=np.int64)[::-1].copy()
        self.popular_rows = np.argsort(-self.counts, kind="stable")

    def __len__(self) -> int:
        return len(self.columns["source"])


@pytest.fixture
def no_row_decoding(monkeypatch):
    def refuse(*_args, **_kwargs):
        raise AssertionError("a row of the source column was decoded")

    monkeypatch.setattr(StringColumn, "take", refuse)
    monkeypatch.setattr(StringColumn, "__getitem__", refuse)


@pytest.mark.parametrize("values", [VALUES, ["only"] * 5, ["x"], [""] * 3])
def test_codes_match_the_decoded_strings(values):
    names, codes = column(values).codes()
    expected, inverse = np.unique(np.array(values, dtype=object), return_inverse=True)
    assert names == list(expected)
    assert codes.tolist() == inverse.tolist()
    assert [names[c] for c in codes] == values


def test_source_codes_decode_no_row(no_row_decoding):
    model = FakeModel(VALUES)
    codes, names = source_codes(model)
    assert [names[c] for c in codes] == VALUES
    seeds = np.array([0])  # radio
    rows = np.arange(len(VALUES))
    assert rows[same_source(model, seeds, rows)].tolist() == [0, 4]
    assert popular_of(model, frozenset({"ab"})).tolist() == [2, 6]  # most played first


def test_one_source_needs_no_filter(no_row_decoding):
    model = FakeModel(["only"] * 4)
    assert source_codes(model) == (None, ["only"])
    assert same_source(model, np.array([1]), np.arange(4)) is None
