"""The popularity fallback stays in the seeds' catalogs: each source is its own catalog, so a
cold song of one source is never padded with another source's hits (a demo sample beside real
data, two customers' catalogs in one database)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index.build import build_bundle
from recsys.index.store import ModelStore
from recsys.recommend.model import ServingModel
from recsys.recommend.service import RecommendationService
from tests.recommend.conftest import FakeCatalog, songs_for


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory, blend_model, planted_playlists):
    """The planted model with genres 0-1 in source ``radio`` and the rest in ``shop``."""
    songs = songs_for(blend_model.song_ids)
    for song_id, song in songs.items():
        song["source"] = "radio" if song_id < 200 else "shop"
    store = ModelStore(tmp_path_factory.mktemp("two-sources"))
    build_bundle(store, blend_model, planted_playlists, songs, backend="exact", version="two")
    model = ServingModel.open(store.path("two"))
    catalog = FakeCatalog(songs, planted_playlists)
    for song_id, source in ((7001, "radio"), (7002, "shop"), (7003, "brand-new")):
        catalog._songs[song_id] = {"id": song_id, "source": source, "external_id": "x",
                                   "title": "Cold", "artist": f"Nobody {song_id}"}
    return RecommendationService(model, catalog)


@pytest.mark.parametrize(("cold", "source"), [(7001, "radio"), (7002, "shop")])
def test_a_cold_song_gets_the_popular_songs_of_its_own_source(two_sources, cold, source):
    model = two_sources.model
    body = two_sources.similar(cold, k=10, explain=True)
    assert body["fallback"] == "popularity"
    assert [item["song"]["source"] for item in body["items"]] == [source] * 10
    mine = [r for r in model.popular_rows.tolist()
            if model.columns["source"][r] == source]
    assert [item["song"]["id"] for item in body["items"]] == [
        int(model.song_ids[r]) for r in mine[:10]]  # the source's most played, in order


def test_same_artist_songs_come_from_the_seeds_source(two_sources):
    catalog = two_sources.catalog
    for song_id, source in ((7101, "radio"), (7102, "shop"), (7103, "shop")):
        catalog._songs[song_id] = {"id": song_id, "source": source, "external_id": "y",
                                   "title": "Namesake", "artist": "Shared Name"}
    body = two_sources.similar(7102, k=3, explain=True)
    same = [item["song"]["id"] for item in body["items"] if item["why"]["via"] == "same_artist"]
    assert body["fallback"] == "same_artist" and same == [7103]  # not radio's 7101


def test_a_source_the_model_does_not_know_gets_every_popular_song(two_sources):
    model = two_sources.model
    body = two_sources.similar(7003, k=10)
    assert [item["song"]["id"] for item in body["items"]] == [
        int(i) for i in np.asarray(model.song_ids)[model.popular_rows[:10]]]


@pytest.mark.parametrize("mode", ["similar", "next"])
def test_answers_from_the_model_stay_in_the_seeds_sources(two_sources, mode):
    model = two_sources.model
    source = {int(i): model.columns["source"][r] for r, i in enumerate(model.song_ids)}
    for seed in list(source)[::7]:
        body = two_sources.similar(seed, k=20, mode=mode)
        assert {item["song"]["source"] for item in body["items"]} == {source[seed]}, seed
        assert len(body["items"]) == 20
    mixed = two_sources.recommend([105, 305], k=30, mode=mode)  # one seed of each source
    assert {item["song"]["source"] for item in mixed["items"]} == {"radio", "shop"}
