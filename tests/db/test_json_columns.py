"""JSON columns take what the metrics code produces, NaN included, on both databases."""

from __future__ import annotations

import math

from recsys.db.models import TrainingRun
from recsys.db.session import session_scope


def test_non_finite_metrics_are_stored_as_null(engine):
    metrics = {"similar": {"tag_coherence": math.nan, "hr@10": 0.25},
               "gate": {"metrics": {"next hr@10": {"se": math.inf, "n": 3}}},
               "list": [1.5, -math.inf, "x", None, True]}
    with session_scope(engine) as session:
        run = TrainingRun(status="succeeded", metrics=metrics)
        session.add(run)
        session.flush()
        run_id = run.id
    with session_scope(engine) as session:
        stored = session.get(TrainingRun, run_id).metrics
    assert stored == {"similar": {"tag_coherence": None, "hr@10": 0.25},
                      "gate": {"metrics": {"next hr@10": {"se": None, "n": 3}}},
                      "list": [1.5, None, "x", None, True]}
    assert math.isnan(metrics["similar"]["tag_coherence"])  # the caller's dict is untouched
