"""The promotion gate: a candidate is promoted only if it is at least as good as production.

Both bundles are measured now, by the same code, on the same stable holdout (playlists no
pipeline model trains on): ``next`` HR@10 and ``similar`` tag coherence (over the songs both
models know) must each reach the production value times ``1 - tolerance``. The holdout is the
smaller of the requested one and the one production was trained with (holdouts of different
fractions are nested), so production is never scored on playlists it saw in training.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from recsys.index.bundle import BundleError
from recsys.index.store import ModelStore
from recsys.jobs import data
from recsys.jobs.evaluation import bundle_metrics
from recsys.recommend.model import ServingModel

log = logging.getLogger("recsys.jobs")

#: (mode, metric) pairs the gate compares.
GATE_METRICS = (("next", "hr@10"), ("similar", "tag_coherence"))


@dataclass
class GateDecision:
    """Outcome of the gate, with the measurements behind it."""

    promote: bool
    reason: str
    candidate: dict[str, Any] = field(default_factory=dict)
    production: dict[str, Any] | None = None
    production_version: str | None = None


def compare(candidate: dict[str, Any], production: dict[str, Any],
            tolerance: float) -> tuple[bool, str]:
    """Whether ``candidate`` metrics reach ``production`` ones; with a readable reason."""
    parts, ok = [], True
    for mode, metric in GATE_METRICS:
        new = candidate.get(mode, {}).get(metric)
        old = production.get(mode, {}).get(metric)
        if new is None or old is None or (isinstance(old, float) and math.isnan(old)):
            continue
        passed = new >= old * (1.0 - tolerance) - 1e-12
        ok &= passed
        parts.append(f"{mode} {metric} {new:.4f} vs {old:.4f} ({'ok' if passed else 'worse'})")
    return ok, "; ".join(parts) or "no comparable metric"


def gate(engine: Engine, store: ModelStore, candidate: str, *, holdout_frac: float,
         source: str | None = None, tolerance: float = 0.0) -> GateDecision:
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
    holdout = data.load_playlists(engine, part="holdout", holdout_frac=frac, source=source)
    if not holdout:
        return GateDecision(False, "no held-out playlists both models were kept from "
                                   f"(production trained with holdout {frac:g}); promote by "
                                   "hand", production_version=current)
    tags = data.load_tags(engine)
    common = set(cand_model.song_ids.tolist()) & set(production.song_ids.tolist())
    cand = bundle_metrics(cand_model, holdout, tags, tag_seeds=common)
    prod = bundle_metrics(production, holdout, tags, tag_seeds=common)
    ok, reason = compare(cand, prod, tolerance)
    log.info("gate %s vs %s: %s -> %s", candidate, current, reason,
             "promote" if ok else "keep production")
    return GateDecision(ok, reason, cand, prod, current)


def trained_holdout(model: ServingModel) -> float | None:
    """The holdout fraction ``model`` was trained without (0: it saw every playlist; None: its
    bundle does not say, e.g. built outside the training job)."""
    value = model.manifest.get("data_snapshot", {}).get("holdout_frac")
    return None if value is None else float(value)
