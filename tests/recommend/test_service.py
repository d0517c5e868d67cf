"""The recommendation service: filters, several seeds, cold-start fallbacks, errors."""

from __future__ import annotations

import math

import pytest

from recsys.recommend.model import ServingModel
from recsys.recommend.service import RecommendationService, UnknownSongError
from tests.recommend.conftest import FakeCatalog, songs_for


@pytest.fixture
def service(bundle_store, blend_model, planted_playlists):
    model = ServingModel.open(bundle_store.path(bundle_store.versions()[0]))
    catalog = FakeCatalog(songs_for(blend_model.song_ids), planted_playlists)
    return RecommendationService(model, catalog)


def _ids(body):
    return [item["song"]["id"] for item in body["items"]]


def test_similar_shape_and_seed_excluded(service):
    body = service.similar(3, k=5)
    assert body["song"]["id"] == 3
    assert body["mode"] == "similar" and body["model_version"] in {"exact", "annoy"}
    assert body["fallback"] is None
    assert len(body["items"]) == 5 and 3 not in _ids(body)
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert set(body["items"][0]["song"]) == {"id", "source", "external_id", "title", "artist"}


def test_similar_recovers_the_genre(service):
    body = service.similar(205, k=10)
    assert sum(1 for i in _ids(body) if i // 100 == 2) >= 9


def test_exclude_still_returns_k(service):
    first = _ids(service.similar(3, k=5, mode="next"))
    again = service.similar(3, k=5, mode="next", exclude=first[:3])
    assert len(again["items"]) == 5
    assert not set(first[:3]) & set(_ids(again))


def test_max_per_artist(service):
    body = service.similar(3, k=8, max_per_artist=1)
    artists = [item["song"]["artist"] for item in body["items"]]
    assert len(artists) == len(set(artists))
    assert len(artists) >= 4  # at least the 4 artists of the seed's genre exist


def test_several_seeds_are_never_returned(service):
    seeds = [0, 1, 2, 3]
    body = service.recommend(seeds, k=10)
    assert [s["id"] for s in body["seeds"]] == seeds
    assert not set(seeds) & set(_ids(body))
    assert 4 in _ids(body)[:3]  # the planted successor of the last seed ranks high


def test_explain_adds_why(service):
    body = service.recommend([5], k=3, explain=True)
    for item in body["items"]:
        assert item["why"]["playlists_with_seeds"] >= 0
    assert body["items"][0]["why"]["playlists_with_seeds"] > 0


def test_unknown_song_raises(service):
    with pytest.raises(UnknownSongError) as info:
        service.similar(999_999)
    assert info.value.ids == [999_999]
    with pytest.raises(UnknownSongError):
        service.recommend([0, 999_998])


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"k": 501}, {"mode": "bogus"},
                                    {"max_per_artist": 0}])
def test_bad_parameters(service, kwargs):
    with pytest.raises(ValueError):
        service.similar(3, **kwargs)


def test_cold_start_uses_cooccurrence(service):
    service.catalog.add(5000, artist="Artist 1-0")
    service.catalog.playlists.append([5000, 101, 102])
    body = service.similar(5000, k=5, explain=True)
    assert body["fallback"] == "cooccurrence"
    assert _ids(body)[:2] == [101, 102]
    assert body["items"][0]["why"] == {"via": "cooccurrence", "playlists_with_seeds": 1}
    assert len(body["items"]) == 5  # filled up by the next fallbacks
    service.catalog.playlists.pop()


def test_cold_start_same_artist_then_popularity(service):
    service.catalog.add(5001, artist="Artist 3-1")
    body = service.similar(5001, k=8)
    assert body["fallback"] == "same_artist"
    assert all(item["song"]["artist"] == "Artist 3-1" for item in body["items"][:5])
    service.catalog.add(5002, artist="Nobody")
    body = service.similar(5002, k=3)
    assert body["fallback"] == "popularity"
    assert len(body["items"]) == 3


def test_warm_requests_make_no_catalog_query(service):
    service.similar(3, k=10)
    service.recommend([1, 2], k=10, max_per_artist=2)
    assert service.catalog.queries == 0


def test_cold_start_max_per_artist_still_fills_k(service):
    # a prolific artist: every same_artist candidate of the first batch is by one artist
    for i in range(60):
        service.catalog.add(6000 + i, artist="Prolific")
    body = service.similar(6000, k=10, max_per_artist=1)
    artists = [item["song"]["artist"] for item in body["items"]]
    assert len(artists) == 10 and len(set(artists)) == 10


def test_explain_counts_by_hand_for_several_seeds(service, planted_playlists):
    seeds = [5, 6]
    body = service.recommend(seeds, k=5, explain=True)
    for item in body["items"]:
        song = item["song"]["id"]
        shared = sum(1 for s in seeds for p in planted_playlists if s in p and song in p)
        after = sum(1 for s in seeds for p in planted_playlists
                    for a, b in zip(p, p[1:], strict=False) if (a, b) == (s, song))
        assert item["why"]["playlists_with_seeds"] == shared
        assert item["why"]["times_after_seeds"] == after
        # the blend's terms add up to the score; the transition term by hand, per seed
        parts = item["why"]["score_parts"]
        assert sum(parts.values()) == pytest.approx(item["score"], abs=1e-4)
        per_seed = [sum(1 for p in planted_playlists for a, b in zip(p, p[1:], strict=False)
                        if (a, b) == (s, song)) for s in seeds]
        weight = service.model.transition_weight
        assert parts["transitions"] == pytest.approx(
            weight * sum(math.log1p(n) for n in per_seed), abs=1e-5)
        assert set(parts) == {"embedding", "popularity", "transitions", "cooccurrence"}
    assert any(item["why"]["times_after_seeds"] > 0 for item in body["items"])
    similar = service.recommend(seeds, k=3, mode="similar", explain=True)["items"]
    assert all("score_parts" not in item["why"] for item in similar)  # a cosine, no blend
