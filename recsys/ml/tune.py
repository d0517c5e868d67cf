"""Hyper-parameter search on a validation split (never the test split).

The space maps :class:`TrainSettings` field names to candidate values.  Keys
that only change *scoring* (``next_*`` weights, ``cooc_window``, ``cooc_repeats``) are evaluated
for every trained model without retraining, so a space of ``T`` training
combinations x ``B`` blend combinations costs ``T`` trainings.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Any

from recsys.ml.evaluate import TagSets, next_song_metrics, tag_coherence
from recsys.ml.scoring import W2VSimilar, next_recommender
from recsys.ml.settings import TrainSettings
from recsys.ml.train import train

log = logging.getLogger("recsys.ml")

SCORING_KEYS = frozenset({"next_w2v_weight", "next_transition_weight", "next_cooc_weight",
                          "next_pop_weight", "cooc_window", "cooc_repeats"})

DEFAULT_SPACE: dict[str, list[Any]] = {
    # training (Caselles-Dupre et al. 2018: these matter for recommendation)
    "window": [5, 20, 50],
    "ns_exponent": [-0.5, 0.0, 0.75],
    "sample": [1e-5, 1e-3],
    "negative": [10, 20],
    "epochs": [10, 20],
    # scoring only (no retraining; 24 blends per trained model, each scored in 1-3 s on yes_big)
    "next_pop_weight": [0.5, 1.0],
    "next_cooc_weight": [2.0, 4.0],
    "next_transition_weight": [0.0, 2.0, 4.0],
    "cooc_repeats": [False, True],
}


def _product(space: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    keys = list(space)
    return [dict(zip(keys, combo, strict=True))
            for combo in itertools.product(*(space[k] for k in keys))]


def tune(train_playlists: Sequence[Sequence[int]], validation: Sequence[Sequence[int]],
         space: Mapping[str, Sequence[Any]] | None = None,
         base: TrainSettings | None = None, n_trials: int | None = None, seed: int = 0,
         objective: str = "hr@10", k: int = 10,
         tags: TagSets | None = None) -> list[dict[str, Any]]:
    """Search ``space`` and return one result dict per (training, blend) combination.

    Args:
        train_playlists: playlists to train on.
        validation: held-out playlists to score on (must not be the test split).
        space: field -> candidate values (default :data:`DEFAULT_SPACE`).
        base: settings for keys not in ``space``.
        n_trials: if given, a seeded random sample of that many *training*
            combinations; otherwise the full grid.
        objective: next-song metric to sort by (descending).
        tags: if given, also report ``similar`` tag coherence per trained model.

    Returns:
        Result dicts sorted by ``objective`` (best first); each holds the
        varied settings, the next-song metrics, ``train_s`` and, with tags,
        ``sim_tag_coherence``.
    """
    space = dict(space if space is not None else DEFAULT_SPACE)
    base = base or TrainSettings()
    unknown = set(space) - set(TrainSettings.field_names())
    if unknown:
        raise ValueError(f"unknown keys in search space: {sorted(unknown)}")
    train_space = {k_: v for k_, v in space.items() if k_ not in SCORING_KEYS}
    blend_space = {k_: v for k_, v in space.items() if k_ in SCORING_KEYS}
    train_combos = _product(train_space)
    if n_trials is not None and n_trials < len(train_combos):
        train_combos = random.Random(seed).sample(train_combos, n_trials)
    blends = _product(blend_space)
    results: list[dict[str, Any]] = []
    for i, combo in enumerate(train_combos, 1):
        settings = base.replace(**combo)
        model = train(train_playlists, settings)
        sim_tag = tag_coherence(W2VSimilar(model), tags, k) if tags is not None else None
        for blend in blends:
            scored = settings.replace(**blend)
            rec = next_recommender(model, train_playlists, scored)
            row: dict[str, Any] = {**combo, **blend}
            row.update(next_song_metrics(rec, validation, k))
            row["train_s"] = model.stats["train_s"]
            if sim_tag is not None:
                row["sim_tag_coherence"] = sim_tag
            results.append(row)
        best = max(results, key=lambda r: r[objective])
        log.info("tune %d/%d %s -> best so far %s=%.4f", i, len(train_combos), combo,
                 objective, best[objective])
    results.sort(key=lambda r: r[objective], reverse=True)
    return results
