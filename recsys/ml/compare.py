"""Side-by-side evaluation of every method on the same seeded splits (mean ± std over seeds).

Methods: the counting baselines (popularity, transitions, co-occurrence counted as playlists
holding both songs and as pairs of plays), word2vec with the
Hands-On LLM book's settings (cosine neighbours), and our ``similar`` and ``next`` scorers.
Each seed splits the playlists 70/10/20 (train/validation/test); models are trained on
train+validation and scored on test only. Alternatively every method is trained on all the
playlists and scored on a separate test set (``compare_methods(..., test=...)``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from recsys.ml.baselines import (
    PopularityRecommender,
    cooccurrence_recommender,
    transition_recommender,
)
from recsys.ml.evaluate import evaluate, split_train_val_test
from recsys.ml.scoring import W2VSimilar, next_recommender
from recsys.ml.settings import TrainSettings
from recsys.ml.train import train

log = logging.getLogger("recsys.ml")

HANDS_ON = TrainSettings(vector_size=32, window=20, negative=50, min_count=1, sg=0, epochs=5,
                         sample=1e-3, ns_exponent=0.75, use_corpus_file=False)
"""Hands-On LLM ch. 2: Word2Vec(vector_size=32, window=20, negative=50, min_count=1),
gensim defaults otherwise (CBOW, 5 epochs); cosine neighbours."""

BASELINES = ("popularity", "transitions", "cooccurrence", "cooccurrence_plays")
METRICS = ("hr@10", "mrr@10", "ndcg@10", "cont_hr@10", "coverage", "tag_coherence",
           "unknown_frac", "train_s")


def run_seed(playlists: Sequence[Sequence[int]], tags: Mapping[int, frozenset[int]] | None,
             settings: TrainSettings, seed: int, hands_on: bool = True) -> list[dict[str, Any]]:
    """Every method on one seeded split; one result dict per method."""
    train_pl, val_pl, test_pl = split_train_val_test(playlists, 0.1, 0.2, seed=seed)
    return run_split(train_pl + val_pl, test_pl, tags, settings, seed, hands_on)


def _timed(name: str, score: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``score()``, with a log line saying what was scored and how long it took."""
    t0 = time.perf_counter()
    row = score()
    log.info("evaluated %s: next HR@10 %.4f, tag coherence %s (%.1f s)", name, row["hr@10"],
             "n/a" if row.get("tag_coherence") is None else f"{row['tag_coherence']:.4f}",
             time.perf_counter() - t0)
    return row


def baseline_rows(fit: Sequence[Sequence[int]], test: Sequence[Sequence[int]],
                  tags: Mapping[int, frozenset[int]] | None = None,
                  k: int = 10) -> list[dict[str, Any]]:
    """The counting baselines (``BASELINES``, in order) fitted on ``fit``, scored on ``test``."""
    makers = (lambda: PopularityRecommender(fit), lambda: transition_recommender(fit),
              lambda: cooccurrence_recommender(fit),
              lambda: cooccurrence_recommender(fit, repeats=True))
    return [_timed(name, lambda make=make, name=name: evaluate(name, make(), test, k=k, tags=tags))
            for name, make in zip(BASELINES, makers, strict=True)]


def run_split(fit: Sequence[Sequence[int]], test: Sequence[Sequence[int]],
              tags: Mapping[int, frozenset[int]] | None, settings: TrainSettings, seed: int,
              hands_on: bool = True, baselines: Sequence[Mapping[str, Any]] | None = None
              ) -> list[dict[str, Any]]:
    """Every method trained on ``fit`` (word2vec with ``seed``) and scored on ``test``;
    ``baselines``: rows of :func:`baseline_rows` already computed on the same data."""
    # with the same data the counts do not depend on the seed: copies of the rows
    rows = (baseline_rows(fit, test, tags) if baselines is None
            else [dict(row) for row in baselines])
    if hands_on:
        log.info("seed %d: training word2vec with the Hands-On settings", seed)
        ho = train(fit, HANDS_ON.replace(seed=seed, workers=settings.workers))
        rows.append(_timed("handson_w2v_cosine", lambda: evaluate(
            "handson_w2v_cosine", W2VSimilar(ho), test, tags=tags,
            extra={"train_s": ho.stats["train_s"]})))
    log.info("seed %d: training word2vec with our settings", seed)
    model = train(fit, settings.replace(seed=seed))
    extra = {"train_s": model.stats["train_s"]}
    rows.append(_timed("p2v_similar", lambda: evaluate(
        "p2v_similar", W2VSimilar(model), test, tags=tags, extra=extra)))
    rows.append(_timed("p2v_next", lambda: evaluate(
        "p2v_next", next_recommender(model, fit), test, tags=tags, extra=extra)))
    for row in rows:
        row["seed"] = seed
    return rows


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation of each metric per method, across seeds."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        agg: dict[str, Any] = {"method": method, "n_seeds": len(mine)}
        for metric in METRICS:
            values = [r[metric] for r in mine if metric in r]
            if values:
                agg[metric] = float(np.mean(values))
                agg[f"{metric}_std"] = float(np.std(values))
        out.append(agg)
    return out


def compare_methods(playlists: Sequence[Sequence[int]], tags: Mapping[int, frozenset[int]] | None,
                    settings: TrainSettings, seeds: Sequence[int] = (0, 1, 2),
                    on_seed: Callable[[int], None] | None = None,
                    test: Sequence[Sequence[int]] | None = None) -> dict[str, Any]:
    """All methods over ``seeds``: per-run rows, the summary, and the acceptance ratios.

    Without ``test``, each seed splits ``playlists`` 70/10/20 and scores its own 20%. With
    ``test`` (playlists kept apart from ``playlists``, e.g. a later export), every method is
    trained on all of ``playlists`` and scored on ``test``; the seeds then only vary
    word2vec's initialisation.
    """
    rows: list[dict[str, Any]] = []
    counted = baseline_rows(playlists, test, tags) if test is not None else None
    for seed in seeds:
        if test is None:
            rows += run_seed(playlists, tags, settings, seed)
        else:
            rows += run_split(playlists, test, tags, settings, seed, baselines=counted)
        if on_seed:
            on_seed(seed)
    summary = summarise(rows)
    return {"seeds": list(seeds), "settings": settings.to_dict(), "summary": summary,
            "runs": rows, "ratios": ratios(summary)}


def ratios(summary: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``next`` HR@10 over the best counting baseline; ``similar`` tags over Hands-On."""
    by = {s["method"]: s for s in summary}
    out: dict[str, float] = {}
    if "p2v_next" in by and all(b in by for b in BASELINES):
        best = max(by[b]["hr@10"] for b in BASELINES)
        out["next_hr_over_best_baseline"] = by["p2v_next"]["hr@10"] / best if best else float("nan")
    sim, ho = by.get("p2v_similar", {}), by.get("handson_w2v_cosine", {})
    if sim.get("tag_coherence") and ho.get("tag_coherence"):
        out["similar_tags_over_handson"] = sim["tag_coherence"] / ho["tag_coherence"]
    return out


def format_summary(summary: Sequence[Mapping[str, Any]], spread: bool = True) -> str:
    """Markdown table with ``mean ± std`` cells (just the mean without ``spread``)."""
    lines = ["| method | " + " | ".join(METRICS) + " |", "|---|" + "---|" * len(METRICS)]
    for s in summary:
        cells = [(f"{s[m]:.4f} ± {s[m + '_std']:.4f}" if spread else f"{s[m]:.4f}")
                 if m in s else "" for m in METRICS]
        lines.append(f"| {s['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
