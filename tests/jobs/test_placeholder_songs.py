"""Yes.com placeholders end to end: imported unavailable, trained on, recorded by the bundle,
never recommended (model path and fallbacks), still seeds."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from recsys.ingest import import_yes
from recsys.jobs.training import train_and_bundle
from recsys.recommend import RecommendationService, ServingModel
from recsys.recommend.catalog import SqlCatalog

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "fixtures" / "yes_placeholders"


def test_placeholders_train_but_are_never_recommended(engine, store, quick_settings):
    import_yes(engine, FIXTURE, "ph", progress=False)
    with engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT external_id, id FROM songs")).all())
    placeholders = {ids["2"], ids["3"]}  # MG_DELETED and "-"/"-", the two most played
    outcome = train_and_bundle(engine, store, quick_settings, holdout_frac=0.0, backend="exact")
    model = ServingModel.open(store.path(outcome.version))
    assert all(model.row_of(i) is not None for i in placeholders)  # trained on their plays
    assert model.row_of(ids["5"]) is None  # never played: not in the model
    assert model.manifest["hidden_songs"] == 2 and model.hidden.ids == placeholders
    with Session(engine) as session:
        service = RecommendationService(model, SqlCatalog(session))
        seeds = [int(i) for i in model.song_ids]
        for seed in [*seeds, ids["5"]]:  # every song, and one the model lacks (fallback)
            for mode in ("similar", "next"):
                body = service.similar(seed, k=50, mode=mode, explain=True)
                got = {item["song"]["id"] for item in body["items"]}
                assert not got & placeholders, (seed, mode, body["fallback"])
                assert got == set(seeds) - placeholders - {seed}  # all the others
        body = service.recommend(sorted(placeholders), k=3)  # placeholders still seed
        assert len(body["items"]) == 3
        model.set_hidden([])  # the check above means something: unhidden, they come first
        body = service.similar(ids["0"], k=3, mode="next")
        assert {item["song"]["id"] for item in body["items"]} & placeholders
