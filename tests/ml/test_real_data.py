"""Acceptance-style checks on the real Yes.com data (slow; skipped if data missing)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from recsys.ml.baselines import PopularityRecommender, cooccurrence_recommender
from recsys.ml.evaluate import (
    next_song_metrics,
    split_playlists,
    split_train_val_test,
    tag_coherence,
)
from recsys.ml.scoring import W2VSimilar, next_recommender
from recsys.ml.settings import TrainSettings
from recsys.ml.train import train

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _yes_dir() -> Path:
    path = Path(os.environ.get("RECSYS_YES_DIR", REPO.parent / "shared" / "data" / "yes"))
    if not (path / "yes_big" / "train.txt").exists():
        msg = f"real Yes.com data not found at {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def _read(subset: str) -> tuple[list[list[int]], dict[int, frozenset[int]]]:
    root = _yes_dir() / subset
    lines = (root / "train.txt").read_text().splitlines()[2:]
    playlists = [[int(t) for t in line.split()] for line in lines if line.strip()]
    tags = {}
    for song, line in enumerate((root / "tags.txt").read_text().splitlines()):
        if line.strip() and line.strip() != "#":
            tags[song] = frozenset(int(t) for t in line.split())
    return playlists, tags


@pytest.fixture(scope="module")
def yes_big():
    return _read("yes_big")


def test_counting_baselines_are_fast_and_sane(yes_big):
    playlists, _ = yes_big
    tr, te = split_playlists(playlists, 0.2, seed=1)
    pop = next_song_metrics(PopularityRecommender(tr), te)
    cooc = next_song_metrics(cooccurrence_recommender(tr), te)
    assert pop["n_queries"] > 20_000 and 0 < pop["unknown_frac"] < 0.05
    assert cooc["hr@10"] > 2 * pop["hr@10"]


def test_default_settings_beat_hands_on_and_counts(yes_big):
    """Short training (few epochs) of the committed config on a validation split."""
    playlists, tags = yes_big
    tr, va, _ = split_train_val_test(playlists, 0.1, 0.2, seed=5)
    settings = TrainSettings.from_yaml(REPO / "data" / "train.yaml", ["epochs=4"])
    model = train(tr, settings)
    hands_on = train(tr, TrainSettings(vector_size=32, window=20, negative=50, sg=0, epochs=5,
                                       use_corpus_file=False))
    ours_tags = tag_coherence(W2VSimilar(model), tags)
    ho_tags = tag_coherence(W2VSimilar(hands_on), tags)
    assert ours_tags >= 1.10 * ho_tags
    ours_next = next_song_metrics(next_recommender(model, tr), va)["hr@10"]
    ho_next = next_song_metrics(W2VSimilar(hands_on), va)["hr@10"]
    pop = next_song_metrics(PopularityRecommender(tr), va)["hr@10"]
    assert ours_next > 2 * max(ho_next, pop)
