"""Contract every index backend must satisfy (same suite for exact, annoy and hnsw)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys.index import available_backends, build_index, get_backend, load_index
from recsys.index.exact import ExactIndex
from tests.conftest import require_or_skip

BACKENDS = ["exact", "annoy", "hnsw"]
METRICS = ["cosine", "dot"]
# small indexes, generous search: the contract is about behaviour, not speed
PARAMS = {"exact": {}, "annoy": {"n_trees": 20, "search_k": 400}, "hnsw": {"ef": 100}}


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param not in available_backends():  # hnswlib is pinned in requirements.txt
        require_or_skip(f"index backend {request.param!r} is not installed")
    return request.param


@pytest.fixture(params=METRICS)
def metric(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def index(backend: str, metric: str, vectors: np.ndarray):
    return build_index(backend, vectors, metric, **PARAMS[backend])


@pytest.fixture
def exact(metric: str, vectors: np.ndarray) -> ExactIndex:
    return ExactIndex.build(vectors, metric)


def true_scores(vectors: np.ndarray, query: np.ndarray, metric: str) -> np.ndarray:
    if metric == "cosine":
        vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        query = query / np.linalg.norm(query)
    return vectors.astype(np.float64) @ query.astype(np.float64)


def test_basic_attributes(index, backend, metric, vectors):
    assert len(index) == len(vectors)
    assert index.dim == vectors.shape[1]
    assert index.metric == metric
    assert index.backend == backend
    json.dumps(index.params)  # goes into the manifest


def test_planted_neighbours_are_found(index, metric, vectors):
    """Exact must find all 20 planted items; approximate backends at least 18."""
    rng = np.random.default_rng(1)
    positions = rng.choice(len(vectors), size=20, replace=False)
    if metric == "cosine":  # near-duplicates of items: that item must come first
        noise = 1e-3 * rng.normal(size=(20, vectors.shape[1])).astype(np.float32)
        queries, winners = vectors[positions] + noise, positions
    else:  # dot: boost planted items along their own direction; each wins its own query
        planted = vectors.copy()
        planted[positions] *= 1.5
        queries = planted[positions] / np.linalg.norm(planted[positions], axis=1, keepdims=True)
        winners = np.argmax(queries @ planted.T, axis=1)
        assert (winners == positions).sum() >= 10  # the planting worked
        index = type(index).build(planted, metric, **PARAMS[index.backend])
    found = np.array([index.query(query, 5)[0][0] for query in queries])
    misses = int((found != winners).sum())
    assert misses <= (0 if index.backend == "exact" else 2)


def test_results_sorted_typed_and_scored(index, metric, vectors):
    query = vectors[3] + vectors[500]
    found, scores = index.query(query, 10)
    assert found.dtype == np.int64 and scores.dtype == np.float32
    assert found.shape == scores.shape == (10,)
    assert len(set(found.tolist())) == 10
    assert np.all(np.diff(scores) <= 1e-6)
    np.testing.assert_allclose(scores, true_scores(vectors, query, metric)[found], atol=1e-4)
    if metric == "cosine":
        assert np.all(scores <= 1.0 + 1e-5)


def test_scores_agree_with_exact(index, exact, vectors):
    query = vectors[42]
    _, scores = index.query(query, 10)
    _, exact_scores = exact.query(query, 10)
    np.testing.assert_allclose(scores[0], exact_scores[0], atol=1e-4)


def test_exclude_removes_items_and_still_returns_k(index, exact, vectors):
    query = vectors[10]
    banned, _ = exact.query(query, 50)
    found, _ = index.query(query, 10, exclude=set(banned.tolist()))
    assert len(found) == 10
    assert not set(found.tolist()) & set(banned.tolist())


def test_exclude_ignores_unknown_positions_and_can_leave_few(index, vectors):
    found, _ = index.query(vectors[0], 5, exclude=[-1, len(vectors) + 5])
    assert len(found) == 5
    keep = {3, 4, 5}
    found, _ = index.query(vectors[0], 10, exclude=set(range(len(vectors))) - keep)
    assert set(found.tolist()) == keep


def test_query_item_excludes_itself(index, exact):
    found, _ = index.query_item(7, 10)
    assert len(found) == 10 and 7 not in found.tolist()
    expected, _ = exact.query_item(7, 10)
    assert len(set(found.tolist()) & set(expected.tolist())) >= 8


def test_k_larger_than_n_returns_everything(backend, metric):
    small = np.random.default_rng(3).normal(size=(12, 8)).astype(np.float32)
    index = build_index(backend, small, metric, **PARAMS[backend])
    found, scores = index.query(small[0], 50)
    assert sorted(found.tolist()) == list(range(12))
    assert np.all(np.diff(scores) <= 1e-6)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, None])
def test_bad_k_raises(index, vectors, k):
    with pytest.raises(ValueError, match="k must be"):
        index.query(vectors[0], k)


def test_bad_dimension_and_values_raise(index, vectors):
    with pytest.raises(ValueError, match="dimension"):
        index.query(vectors[0][:-1], 5)
    with pytest.raises(ValueError, match="NaN"):
        index.query(np.full(vectors.shape[1], np.nan), 5)
    with pytest.raises(ValueError, match="out of range"):
        index.query_item(len(vectors), 5)


def test_bad_build_arguments_raise(backend, vectors):
    with pytest.raises(ValueError, match="unknown metric"):
        build_index(backend, vectors, "euclidean")
    with pytest.raises(ValueError, match="2-D"):
        build_index(backend, vectors[0], "cosine")


def test_save_load_roundtrip(index, backend, vectors, tmp_path: Path):
    files = index.save(tmp_path / "sub" / "idx")
    assert files and all(Path(f).is_file() for f in files)
    loaded = load_index(tmp_path / "sub" / "idx")
    assert type(loaded) is type(index)
    assert (len(loaded), loaded.dim, loaded.metric) == (len(index), index.dim, index.metric)
    assert loaded.params == json.loads(json.dumps(index.params))
    for position in (0, 99, 512):
        before = index.query(vectors[position], 10, exclude={position})
        after = loaded.query(vectors[position], 10, exclude={position})
        np.testing.assert_array_equal(before[0], after[0])
        np.testing.assert_allclose(before[1], after[1], atol=1e-6)


def test_load_is_memory_mapped_where_supported(index, vectors, tmp_path: Path):
    files = index.save(tmp_path / "idx")
    loaded = get_backend(index.backend).load(tmp_path / "idx", mmap=True)
    loaded.query(vectors[0], 5)
    maps = Path("/proc/self/maps")
    if not type(index).mmap_supported or not maps.exists():
        pytest.skip("backend reads the index into memory / no /proc")
    data_files = {str(Path(f).resolve()) for f in files if not str(f).endswith(".json")}
    assert any(line.split()[-1] in data_files for line in maps.read_text().splitlines())


def test_load_errors(index, tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "missing")
    files = index.save(tmp_path / "idx")
    with pytest.raises(ValueError, match="expected"):
        load_index(tmp_path / "idx", backend="nope")
    other = "annoy" if index.backend == "exact" else "exact"
    with pytest.raises(ValueError, match="index, not"):
        get_backend(other).load(tmp_path / "idx")
    next(Path(f) for f in files if not str(f).endswith(".json")).unlink()
    with pytest.raises(FileNotFoundError):
        load_index(tmp_path / "idx")


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown index backend"):
        get_backend("faiss")
