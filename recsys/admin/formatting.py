"""Template filters and helpers: numbers, times, durations, metric help, settings summaries
(metric names and comparisons: :mod:`recsys.admin.metrics`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from recsys.admin import bp

SETTINGS_SUMMARY = (("vector_size", "dim"), ("window", "window"), ("epochs", "epochs"),
                    ("negative", "neg"), ("sg", "sg"), ("min_count", "min"),
                    ("sample", "sample"))
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
    "holdout_playlists": "held-out playlists scored (count)",
    "holdout_frac_scored": "the stable part of the holdout scored, as a share of all "
                           "playlists (a large holdout is cut to at most 20,000 transitions)",
    "next_hr_over_best": "next HR@10 divided by the best counting baseline's on the same "
                         "holdout (one evaluation, no significance test)",
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


#: How the imports table words ``import_runs.changes`` (rows already present that changed).
CHANGE_LABELS = {"songs_filled": ("song filled in", "songs filled in"),
                 "songs_updated": ("song updated", "songs updated"),
                 "playlists_replaced": ("playlist replaced", "playlists replaced"),
                 "items_replaced": ("item rewritten", "items rewritten"),
                 "playlists_named": ("playlist's name filled in", "playlists' names filled in"),
                 "playlists_renamed": ("playlist renamed", "playlists renamed"),
                 "songs_retagged": ("song's tags replaced", "songs' tags replaced"),
                 "song_tags_removed": ("tag link removed", "tag links removed"),
                 "playlists_deleted": ("playlist deleted", "playlists deleted"),
                 "items_deleted": ("item deleted", "items deleted")}


@bp.app_template_filter("import_changes")
def fmt_changes(changes: Mapping[str, Any] | None) -> list[str]:
    """``{"songs_updated": 3}`` -> ``["3 songs updated"]``, in a fixed order."""
    changes = changes or {}
    return [f"{fmt_num(n)} {CHANGE_LABELS[name][n != 1]}" for name in CHANGE_LABELS
            if isinstance(n := changes.get(name), int) and n]


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
