"""Large catalogs: an index Annoy cannot tune within search_k = the item count is a scan."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.index import build as build_mod
from recsys.index.exact import ExactIndex
from recsys.index.store import ModelStore
from recsys.recommend.model import MODES, ServingModel
from tests.recommend.conftest import songs_for


def _build(tmp_path, model, playlists, target: float) -> ServingModel:
    store = ModelStore(tmp_path)
    build_mod.build_bundle(store, model, playlists, songs_for(model.song_ids),
                           backend="annoy", target_recall=target, version="v")
    return ServingModel.open(store.path("v"))


def test_unreachable_target_on_a_large_catalog_scans(tmp_path, blend_model, planted_playlists,
                                                     monkeypatch):
    monkeypatch.setattr(build_mod, "NEIGHBOURS_MAX_SONGS", 0)
    served = _build(tmp_path, blend_model, planted_playlists, 1.01)
    for mode in MODES:
        info = served.manifest["indexes"][mode]
        assert info["backend"] == "exact" and info["recall_at_10"] == 1.0
        assert isinstance(served.indexes[mode], ExactIndex)
        tuning = info["annoy_tuning"]
        assert tuning["backend"] == "annoy" and tuning["reached"] is False
        assert tuning["search_k"] <= len(served)
    # the lists are the scan's answers: exact for `similar`
    assert served.manifest["neighbours"]["recall_at_10"]["similar"] == 1.0
    rows, _ = served.neighbours["similar"]
    unit = blend_model.in_vectors / np.linalg.norm(blend_model.in_vectors, axis=1,
                                                    keepdims=True)
    cos = unit @ unit[0]
    cos[0] = -np.inf
    assert rows[0, :5].tolist() == np.argsort(-cos)[:5].tolist()


@pytest.mark.parametrize("limit", [None, 0])
def test_annoy_kept_when_small_or_tuned(tmp_path, blend_model, planted_playlists, monkeypatch,
                                        limit):
    """Small catalogs keep Annoy whatever its recall (built as before); large ones keep it
    when it reaches the target."""
    if limit is not None:
        monkeypatch.setattr(build_mod, "NEIGHBOURS_MAX_SONGS", limit)
    served = _build(tmp_path, blend_model, planted_playlists, 1.01 if limit is None else 0.5)
    for mode in MODES:
        info = served.manifest["indexes"][mode]
        assert info["backend"] == "annoy" and "annoy_tuning" not in info
