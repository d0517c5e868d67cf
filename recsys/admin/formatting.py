"""Template filters and helpers: numbers, times, durations, metrics and settings summaries."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from recsys.admin import bp

SETTINGS_SUMMARY = (("vector_size", "dim"), ("window", "window"), ("epochs", "epochs"),
                    ("negative", "neg"), ("sg", "sg"), ("min_count", "min"),
                    ("sample", "sample"))
KEY_METRICS = (("next", "hr@", "next HR"), ("next", "mrr@", "next MRR"),
               ("similar", "hr@", "similar HR"), ("similar", "tag_coherence", "tag coherence"),
               ("baselines", "next_hr_over_best", "next HR / best counting baseline"))
#: What each metric means (shown as a tooltip and in the run page's table); the last word
#: says which direction is better.
METRIC_HELP = {
    "hr": "share of held-out next songs found in the top k (higher is better)",
    "mrr": "mean reciprocal rank of the held-out next song in the top k (higher is better)",
    "ndcg": "normalised discounted cumulative gain of the top k (higher is better)",
    "cont_hr": "playlist continuation: the last song found in the top k after the others "
               "(higher is better)",
    "cont_mrr": "playlist continuation, mean reciprocal rank (higher is better)",
    "cont_ndcg": "playlist continuation, NDCG (higher is better)",
    "cont_n": "held-out playlists scored for continuation (count)",
    "coverage": "share of the catalog that appears in some top-k list (higher: less "
                "popularity bias)",
    "tag_coherence": "mean Jaccard overlap of a song's tags with its results' tags "
                     "(higher is better)",
    "unknown_frac": "share of queries whose seed or target the model never saw (counted as "
                    "misses; lower is better)",
    "n_queries": "held-out transitions scored (count)",
    "n_unique_seeds": "distinct seed songs among them (count)",
    "holdout_playlists": "playlists in the stable holdout (count)",
    "next_hr_over_best": "next HR@10 divided by the best counting baseline's on the same "
                         "holdout (above 1× beats counting)",
}


@bp.app_template_filter("num")
def fmt_num(value: Any, digits: int = 4) -> str:
    """Integers with thousands separators, floats with ``digits`` decimals, None as ``–``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


@bp.app_template_filter("when")
def fmt_when(value: datetime | str | float | None) -> str:
    """``YYYY-MM-DD HH:MM:SS UTC`` (times are stored in UTC; numbers are Unix times), or ``–``."""
    if value is None or value == "":
        return "–"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("duration")
def fmt_duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@bp.app_template_filter("pretty_json")
def fmt_json(value: Any) -> str:
    """Indented JSON (escaped by Jinja like any other text)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def flatten(metrics: Mapping[str, Any] | None, prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metrics as ``("next hr@10", 0.31)`` pairs, in key order."""
    out: list[tuple[str, Any]] = []
    for key in sorted(metrics or {}):
        value = metrics[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(flatten(value, f"{name} "))
        else:
            out.append((name, value))
    return out


def metric_help(name: str) -> str:
    """What a metric (``hr@10``, ``next_hr_over_best``...) means, or ``""``."""
    return METRIC_HELP.get(name.split("@")[0], "")


@bp.app_template_filter("metric")
def fmt_metric(value: Any, name: str) -> str:
    """A metric value in its unit: ratios as ``1.085×``, counts as integers, else 4 decimals."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if name.endswith("over_best"):
            return f"{value:.3f}×"
        if name.startswith("n_") or name in ("cont_n", "holdout_playlists"):
            return fmt_num(int(value))
    return fmt_num(value)


@bp.app_template_global("key_metrics")
def key_metrics(metrics: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """The headline metrics (next HR/MRR@k, similar HR@k, tag coherence, the ratio to the best
    baseline) when present, else the first few flat ones: ``(label, shown value, help)``."""
    metrics = metrics or {}
    out = []
    for section, prefix, label in KEY_METRICS:
        part = metrics.get(section)
        if not isinstance(part, Mapping):
            continue
        for key in sorted(part):
            if key.startswith(prefix) and not isinstance(part[key], Mapping):
                suffix = key[len(prefix):] if prefix.endswith("@") else ""
                out.append((f"{label}@{suffix}" if suffix else label,
                            fmt_metric(part[key], key), metric_help(key)))
                break
    if out:
        return out
    model_only = {k: v for k, v in metrics.items() if k not in ("baselines", "gate")}
    flat = [(k, v) for k, v in flatten(model_only)
            if isinstance(v, int | float) and not isinstance(v, bool)][:4]
    return [(k, fmt_metric(v, k.split()[-1]), metric_help(k.split()[-1])) for k, v in flat]


@bp.app_template_global("all_metrics")
def all_metrics(metrics: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """Every metric of the model, flattened, as ``(name, shown value, help)`` (the baselines
    and the promotion gate have their own tables)."""
    rows = flatten({k: v for k, v in (metrics or {}).items() if k not in ("baselines", "gate")})
    return [(name, fmt_metric(v, name.split()[-1]), metric_help(name.split()[-1]))
            for name, v in rows]


BASELINE_COLUMNS = (("hr@10", "HR@10"), ("mrr@10", "MRR@10"), ("ndcg@10", "NDCG@10"),
                    ("cont_hr@10", "continuation HR@10"), ("coverage", "coverage"))
BASELINE_NAMES = (("cooccurrence_plays", "co-occurrence (pairs of plays)"),
                  ("cooccurrence", "co-occurrence (playlists with both)"),
                  ("transitions", "transitions"), ("popularity", "popularity"))


@bp.app_template_global("baseline_table")
def baseline_table(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The model's ``next`` row beside the counting baselines of the same holdout, or None."""
    metrics = metrics or {}
    base, ours = metrics.get("baselines"), metrics.get("next")
    if not isinstance(base, Mapping) or not isinstance(ours, Mapping):
        return None
    rows = [("this model (next)", ours)]
    rows += [(label, base[key]) for key, label in BASELINE_NAMES if isinstance(base.get(key),
                                                                              Mapping)]
    return {"columns": BASELINE_COLUMNS, "rows": rows, "ratio": base.get("next_hr_over_best")}


@bp.app_template_global("settings_summary")
def settings_summary(settings: Mapping[str, Any] | None) -> str:
    """One line of the main word2vec settings, e.g. ``dim 64 · window 5 · epochs 20``."""
    settings = settings or {}
    parts = [f"{label} {settings[key]}" for key, label in SETTINGS_SUMMARY if key in settings]
    return " · ".join(parts) or "–"


@bp.app_template_global("snapshot_summary")
def snapshot_summary(snapshot: Mapping[str, Any] | None) -> str:
    """The data a model saw, e.g. ``3,000 playlists (2,686 train) · 637 songs · 10% held out``."""
    snap = snapshot or {}
    parts = []
    if "playlists" in snap:
        train = snap.get("train_playlists")
        parts.append(f"{fmt_num(snap['playlists'])} playlists"
                     + (f" ({fmt_num(train)} train)" if train is not None else ""))
    for key in ("songs", "items"):
        if key in snap:
            parts.append(f"{fmt_num(snap[key])} {key}")
    if snap.get("holdout_frac"):
        parts.append(f"{float(snap['holdout_frac']):.0%} held out")
    if snap.get("source"):
        parts.append(f"source {snap['source']}")
    return " · ".join(parts) or "–"
