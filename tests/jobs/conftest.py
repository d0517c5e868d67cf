"""A database with the synthetic sample, a model store, and quick training settings."""

from __future__ import annotations

import pytest

from recsys.index.store import ModelStore
from recsys.ingest.sample import import_sample
from recsys.ml.settings import TrainSettings

QUICK = TrainSettings(vector_size=16, window=3, negative=5, epochs=20, workers=1, seed=3,
                      next_transition_weight=0.5, next_cooc_weight=0.2, next_pop_weight=0.05)


@pytest.fixture
def quick_settings() -> TrainSettings:
    return QUICK


@pytest.fixture
def sample_engine(engine):
    """The fresh database (SQLite and PostgreSQL) with 800 sample playlists."""
    import_sample(engine, 800, seed=5, progress=False)
    return engine


@pytest.fixture
def small_db(sqlite_url):
    """SQLite only, for the slower multi-run pipeline tests."""
    from recsys.db.session import make_engine

    eng = make_engine(sqlite_url)
    import_sample(eng, 800, seed=5, progress=False)
    yield eng
    eng.dispose()


@pytest.fixture
def store(tmp_path) -> ModelStore:
    return ModelStore(tmp_path / "models")


@pytest.fixture
def loaded(app, runner, tmp_path):
    """The CLI's app with 600 sample playlists (seed 4) and a small training config."""
    config = tmp_path / "train.yaml"
    config.write_text("window: 3\nnegative: 5\nseed: 2\n")
    app.config["TRAIN_CONFIG"] = str(config)
    result = runner.invoke(args=["sample", "--playlists", "600", "--seed", "4", "--no-progress"])
    assert result.exit_code == 0, result.output
    return app
