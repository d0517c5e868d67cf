"""The serving fast paths give the same answers as the straightforward code they replaced."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.index.bundle import StringColumn
from recsys.recommend.csr import gather, row_sums


@pytest.fixture(scope="module")
def table() -> sp.csr_matrix:
    rng = np.random.default_rng(7)
    mat = sp.random(60, 60, density=0.15, random_state=rng, dtype=np.float32, format="csr")
    mat.data = np.ceil(mat.data * 5).astype(np.float32)  # counts, as in the bundles
    mat.sort_indices()
    return mat


@pytest.mark.parametrize("seeds", [[3], [0, 7, 59], [5, 5], [12, 40]])
def test_row_sums_match_scipy(table, seeds):
    seeds = np.asarray(seeds)
    dense = np.asarray(table[seeds].sum(axis=0)).ravel()
    cols, values = row_sums(table, seeds)
    assert cols.tolist() == np.flatnonzero(dense).tolist()
    assert values.tolist() == dense[cols].tolist()


@pytest.mark.parametrize("seeds", [[3], [0, 7, 59]])
def test_gather_matches_scipy(table, seeds):
    seeds = np.asarray(seeds)
    rows = np.array([0, 1, 2, 10, 33, 59, 58, 17], dtype=np.int64)
    expected = table[seeds][:, rows].toarray()
    np.testing.assert_array_equal(gather(table, seeds, rows), expected)


def test_gather_empty_row():
    empty = sp.csr_matrix((4, 4), dtype=np.float32)
    got = gather(empty, np.array([1]), np.array([0, 3]))
    assert got.tolist() == [[0.0, 0.0]]


def test_string_column_take_matches_items():
    values = ["a", "héé", "", "x" * 300, "日本"]
    column = StringColumn(*StringColumn.encode(values))
    assert [column[i] for i in range(len(values))] == values
    assert column.take([4, 0, 2, 4]) == ["日本", "a", "", "日本"]
    assert column.take(np.array([], dtype=np.int64)) == []


def test_large_catalog_path_gives_the_same_songs(bundle_store, monkeypatch):
    from recsys.recommend import model as model_mod

    path = bundle_store.path(bundle_store.current_version() or bundle_store.versions()[0])
    decoded = model_mod.ServingModel.open(path)
    monkeypatch.setattr("recsys.recommend.metadata.DECODE_MAX_SONGS", 0)
    mapped = model_mod.ServingModel.open(path)
    assert decoded._decoded is not None and mapped._decoded is None
    rows = np.arange(len(decoded))[::-1]
    assert decoded.songs(rows) == mapped.songs(rows)
    ids = [int(i) for i in decoded.song_ids] + [10**9]
    assert [decoded.row_of(i) for i in ids] == [mapped.row_of(i) for i in ids]
    assert decoded.artist(3) == mapped.artist(3)


def test_large_catalog_json_comes_from_the_bundle(bundle_store, monkeypatch):
    from recsys.recommend import model as model_mod

    path = bundle_store.path(bundle_store.current_version() or bundle_store.versions()[0])
    decoded = model_mod.ServingModel.open(path)
    monkeypatch.setattr("recsys.recommend.metadata.DECODE_MAX_SONGS", 0)
    mapped = model_mod.ServingModel.open(path)
    assert isinstance(mapped.song_json, StringColumn)  # the bundle's column, not re-encoded
    rows = list(range(len(decoded)))[::-3]
    assert mapped.songs_json(rows) == decoded.songs_json(rows)
    assert [json.loads(t) for t in mapped.songs_json(rows)] == decoded.songs(rows)


def test_bundle_song_json_escapes_like_jsonify(tmp_path, blend_model, planted_playlists):
    from recsys.index.build import build_bundle
    from recsys.index.store import ModelStore
    from recsys.recommend import model as model_mod
    from tests.recommend.conftest import songs_for

    songs = songs_for(blend_model.song_ids)
    first = int(blend_model.song_ids[0])
    songs[first] = {**songs[first], "title": 'Caf\u00e9 "Noir" \\ \u65e5\u672c', "artist": "\u00c9"}
    store = ModelStore(tmp_path)
    build_bundle(store, blend_model, planted_playlists, songs, backend="exact", version="v")
    bundle_json = model_mod.Bundle.open(store.path("v")).strings("song_json")
    text = bundle_json[0]
    assert text.isascii()
    assert text == json.dumps({"id": first, **songs[first]}, sort_keys=True,
                              separators=(",", ":"))
    assert json.loads(text)["title"] == 'Caf\u00e9 "Noir" \\ \u65e5\u672c'
