"""The promotion gate: a candidate is promoted only if it is at least as good as production.

Both bundles are measured now, by the same code, on the same stable holdout (playlists no
pipeline model trains on): ``next`` HR@10 and ``similar`` tag coherence must each reach the
production value times ``1 - tolerance``.
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
    holdout = data.load_playlists(engine, part="holdout", holdout_frac=holdout_frac,
                                  source=source)
    tags = data.load_tags(engine)
    if current is None:
        return GateDecision(True, "no model in production")
    if not holdout:
        return GateDecision(False, "no held-out playlists to compare on; promote by hand",
                            production_version=current)
    cand = bundle_metrics(ServingModel.open(store.path(candidate)), holdout, tags)
    try:
        production = ServingModel.open(store.path(current))
    except (BundleError, OSError, ValueError) as exc:  # servers cannot load it either
        log.error("gate: production model %s cannot be loaded (%s); promoting %s",
                  current, exc, candidate)
        return GateDecision(True, f"production model {current} cannot be loaded: {exc}",
                            cand, None, current)
    prod = bundle_metrics(production, holdout, tags)
    ok, reason = compare(cand, prod, tolerance)
    log.info("gate %s vs %s: %s -> %s", candidate, current, reason,
             "promote" if ok else "keep production")
    return GateDecision(ok, reason, cand, prod, current)
