"""The promotion gate: a candidate is promoted only if it is at least as good as production.

Both bundles are measured now, by the same code, on the same stable holdout (playlists no
pipeline model trains on): ``next`` HR@10 and ``similar`` tag coherence (over the songs both
models know) must each reach the production value times ``1 - tolerance``. The holdout is the
smaller of the requested one and the one production was trained with (holdouts of different
fractions are nested), so production is never scored on playlists it saw in training.
The gate reads the holdout anew, after the training run's snapshot: a change committed since
(held-out playlists added, edited or deleted, tags) can make it differ from what the run scored
and recorded, but both models are scored on this one read, and neither trained on any of it
(the split hashes ``source:external_id``), so the comparison stays fair.

Both models answer the same queries, so the gate also measures the paired difference and its
standard error (clustered by playlist for ``next``; :mod:`recsys.ml.significance`) and states
it in the reason. With ``noise_z > 0`` a candidate below production by less than ``noise_z``
standard errors passes too: an equally good retrain is not refused because of sampling noise.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Engine

from recsys.index.bundle import BundleError
from recsys.index.store import ModelStore
from recsys.jobs import data
from recsys.jobs.evaluation import bundle_metrics
from recsys.ml.significance import PairedDifference, paired_difference, transition_playlists
from recsys.recommend.model import ServingModel

log = logging.getLogger("recsys.jobs")

#: (mode, metric) pairs the gate compares.
GATE_METRICS = (("next", "hr@10"), ("similar", "tag_coherence"))
#: How the reason names them (operators read it in logs, mails and the dashboard).
GATE_LABELS = {("next", "hr@10"): "next-song HR@10",
               ("similar", "tag_coherence"): "similar-song tag coherence"}


@dataclass
class GateDecision:
    """Outcome of the gate, with the measurements behind it."""

    promote: bool
    reason: str
    candidate: dict[str, Any] = field(default_factory=dict)
    production: dict[str, Any] | None = None
    production_version: str | None = None
    #: ``"mode metric"`` -> paired difference candidate - production (mean, se, n).
    differences: dict[str, PairedDifference] = field(default_factory=dict)


def compare(candidate: dict[str, Any], production: dict[str, Any], tolerance: float,
            differences: dict[str, PairedDifference] | None = None,
            noise_z: float = 0.0) -> tuple[bool, str]:
    """Whether ``candidate`` metrics reach ``production`` ones; with a readable reason.

    ``differences`` maps ``"mode metric"`` to the paired difference of the two models;
    with ``noise_z > 0`` a metric within ``noise_z`` standard errors below production passes.
    """
    parts, ok = [], True
    for mode, metric in GATE_METRICS:
        new = candidate.get(mode, {}).get(metric)
        old = production.get(mode, {}).get(metric)
        if new is None or old is None or (isinstance(old, float) and math.isnan(old)):
            continue
        diff = (differences or {}).get(f"{mode} {metric}")
        passed = new >= old * (1.0 - tolerance) - 1e-12
        verdict = "ok" if passed else "worse"
        if not passed and noise_z > 0 and diff is not None and diff.within(noise_z):
            passed, verdict = True, f"ok within {noise_z:g} SE"
        ok &= passed
        shown = 0.0 if diff is None else round(diff.mean, 4) + 0.0  # + 0.0: no "-0.0000"
        noise = ("" if diff is None or math.isnan(diff.se)
                 else f", diff {shown:+.4f} ± {diff.se:.4f} SE")
        parts.append(f"{GATE_LABELS[mode, metric]} {new:.4f} vs {old:.4f} ({verdict}{noise})")
    return ok, "; ".join(parts) or "no comparable metric"


def decision_record(decision: GateDecision, verdict: str, tolerance: float,
                    noise_z: float) -> dict[str, Any]:
    """JSON record of a gate decision for the training run (what the dashboard shows)."""
    production = decision.production or {}
    return {
        "verdict": verdict,
        "reason": decision.reason,
        "production_version": decision.production_version,
        "tolerance": tolerance,
        "noise_z": noise_z,
        "metrics": {
            f"{mode} {metric}": {
                "candidate": decision.candidate.get(mode, {}).get(metric),
                "production": production.get(mode, {}).get(metric),
                **({"diff": d.mean, "se": d.se, "n": d.n}
                   if (d := decision.differences.get(f"{mode} {metric}")) else {}),
            }
            for mode, metric in GATE_METRICS if metric in decision.candidate.get(mode, {})
        },
    }


def paired_differences(candidate: dict[str, Any], production: dict[str, Any],
                       holdout: Sequence[Sequence[int]], k: int = 10
                       ) -> dict[str, PairedDifference]:
    """Paired differences of the gate metrics from :func:`bundle_metrics`' ``per_query``."""
    cand, prod = candidate["per_query"], production["per_query"]
    out = {f"next hr@{k}": paired_difference(cand["next_ranks"] > 0, prod["next_ranks"] > 0,
                                             transition_playlists(holdout))}
    if ("tag_values" in cand and "tag_values" in prod
            and np.array_equal(cand["tag_seeds"], prod["tag_seeds"])):
        out["similar tag_coherence"] = paired_difference(cand["tag_values"], prod["tag_values"])
    return out


def gate(engine: Engine, store: ModelStore, candidate: str, *, holdout_frac: float,
         source: str | None = None, tolerance: float = 0.0,
         noise_z: float = 0.0) -> GateDecision:
    """Measure candidate and production on the holdout and decide."""
    current = store.current_version()
    if current is None:
        return GateDecision(True, "no model in production")
    cand_model = ServingModel.open(store.path(candidate))
    try:
        production = ServingModel.open(store.path(current))
    except (BundleError, OSError, ValueError) as exc:  # servers cannot load it either
        log.error("gate: production model %s cannot be loaded (%s); promoting %s",
                  current, exc, candidate)
        return GateDecision(True, f"production model {current} cannot be loaded: {exc}",
                            production_version=current)
    trained = trained_holdout(production)
    frac = holdout_frac if trained is None else min(holdout_frac, trained)
    if frac < holdout_frac:
        log.warning("gate: production %s was trained with holdout %.3f: comparing on that "
                    "part of the %.3f holdout only", current, frac, holdout_frac)
    holdout, scored = data.load_holdout(engine, holdout_frac=frac, source=source)
    if scored < frac:
        log.info("gate: scoring the stable %g of the %g holdout (at most %d transitions)",
                 scored, frac, data.EVAL_MAX_TRANSITIONS)
    if not holdout:
        return GateDecision(False, "no held-out playlists both models were kept from "
                                   f"(production trained with holdout {frac:g}); promote by "
                                   "hand", production_version=current)
    tags = data.load_tags(engine)
    both = set(cand_model.song_ids.tolist()) & set(production.song_ids.tolist())
    common = data.tag_seeds(both, tags)
    cand = bundle_metrics(cand_model, holdout, tags, tag_seeds=common, per_query=True)
    prod = bundle_metrics(production, holdout, tags, tag_seeds=common, per_query=True)
    differences = paired_differences(cand, prod, holdout)
    cand.pop("per_query"), prod.pop("per_query")
    ok, reason = compare(cand, prod, tolerance, differences, noise_z)
    log.info("gate %s vs %s: %s -> %s", candidate, current, reason,
             "promote" if ok else "keep production")
    return GateDecision(ok, reason, cand, prod, current, differences)


def trained_holdout(model: ServingModel) -> float | None:
    """The holdout fraction ``model`` was trained without (0: it saw every playlist; None: its
    bundle does not say, e.g. built outside the training job)."""
    value = model.manifest.get("data_snapshot", {}).get("holdout_frac")
    return None if value is None else float(value)
