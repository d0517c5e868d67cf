"""A tiny planted model turned into bundles (exact and Annoy) for the serving tests."""

from __future__ import annotations

import pytest

from recsys.index.build import build_bundle
from recsys.index.store import ModelStore
from tests.ml.conftest import make_planted


def artist_of(song_id: int) -> str:
    genre, j = divmod(song_id, 100)
    return f"Artist {genre}-{j // 5}"


def songs_for(ids) -> dict[int, dict]:
    return {
        int(i): {"source": "planted", "external_id": str(i), "title": f"Song {i}",
                 "artist": artist_of(int(i))}
        for i in ids
    }


@pytest.fixture(scope="session")
def planted_playlists():
    return make_planted(n_playlists=400, seed=3)


@pytest.fixture(scope="session")
def blend_model(planted_playlists):
    from recsys.ml.settings import TrainSettings
    from recsys.ml.train import train

    settings = TrainSettings(vector_size=16, window=2, negative=5, sample=0.0, epochs=20,
                             workers=1, seed=1, next_transition_weight=0.5,
                             next_cooc_weight=0.2, next_pop_weight=0.1)
    return train(planted_playlists, settings)


@pytest.fixture(scope="session", params=["exact", "annoy"])
def bundle_store(request, tmp_path_factory, blend_model, planted_playlists):
    """A store holding one bundle per backend, version = backend name."""
    store = ModelStore(tmp_path_factory.mktemp(f"store-{request.param}"))
    build_bundle(store, blend_model, planted_playlists, songs_for(blend_model.song_ids),
                 backend=request.param, version=request.param,
                 metrics={"hr@10": 0.5}, data_snapshot={"playlists": len(planted_playlists)})
    return store


class FakeCatalog:
    """In-memory catalog: the model's songs plus a few the model has not seen."""

    def __init__(self, songs: dict[int, dict], playlists: list[list[int]]) -> None:
        self._songs = {i: {"id": i, **s} for i, s in songs.items()}
        self.playlists = list(playlists)  # tests may add some: never the shared fixture's
        self.queries = 0

    def add(self, song_id: int, artist: str) -> None:
        self._songs[song_id] = {"id": song_id, "source": "planted", "external_id": str(song_id),
                                "title": f"New {song_id}", "artist": artist}

    def songs(self, ids):
        self.queries += 1
        return {i: self._songs[i] for i in ids if i in self._songs}

    def cooccurring(self, ids, limit, exclude=()):
        self.queries += 1
        counts: dict[int, int] = {}
        for p in self.playlists:
            if set(ids) & set(p):
                for s in set(p) - set(ids) - set(exclude):
                    counts[s] = counts.get(s, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def same_artist(self, artists, limit, exclude=(), sources=()):
        self.queries += 1
        found = [i for i, s in sorted(self._songs.items())
                 if s["artist"] in artists and i not in exclude
                 and (not sources or s["source"] in sources)]
        return found[:limit]


def build_as_large(store: ModelStore, blend_model, planted_playlists, backend: str,
                   list_workers: int, **limits: int) -> ModelStore:
    """A bundle ``v`` built as for a catalog above the exact-lists limit (the limit patched
    to 0; Annoy kept, tuned within 100 nodes), with the other ``limits`` of
    :mod:`recsys.index.build` patched as given."""
    from recsys.index import build as build_mod

    patch = pytest.MonkeyPatch()
    patch.setattr(build_mod, "NEIGHBOURS_MAX_SONGS", 0)
    patch.setattr(build_mod, "SCAN_NODES_PER_ITEM", 1)
    for name, value in limits.items():
        patch.setattr(build_mod, name, value)
    try:
        build_mod.build_bundle(store, blend_model, planted_playlists,
                               songs_for(blend_model.song_ids), backend=backend,
                               version="v", list_workers=list_workers)
    finally:
        patch.undo()
    return store


def served_and_bare(store: ModelStore):
    """(the model ``v`` as served, the same model with its lists dropped)."""
    from recsys.recommend.model import ServingModel

    served = ServingModel.open(store.path("v"))
    bare = ServingModel.open(store.path("v"))
    bare.neighbours, bare.listed_seeds = {}, None
    return served, bare
