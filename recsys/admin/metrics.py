"""How the dashboard names, orders and compares evaluation metrics.

Metrics are stored as the evaluation wrote them (``{"next": {"hr@10": ...}, "baselines": ...}``);
this module turns their keys into readable labels (``next song · HR@10``), picks the headline
chips, compares the model with the counting baselines column by column (ratios and the metrics
it loses on, from one held-out evaluation: no significance is claimed), and words the
promotion gate and the promote confirmation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from recsys.admin import bp
from recsys.admin.formatting import METRIC_HELP, flatten, fmt_num, metric_help

KEY_METRICS = (("next", "hr@", "next HR"), ("next", "mrr@", "next MRR"),
               ("similar", "hr@", "similar HR"), ("similar", "tag_coherence", "tag coherence"))
SECTION_LABELS = {"next": "next song", "similar": "similar songs"}
#: Readable names of metric keys (before any ``@k``), in the order the full table lists them.
KEY_LABELS = {
    "hr": "HR", "mrr": "MRR", "ndcg": "NDCG", "cont_hr": "continuation HR",
    "cont_mrr": "continuation MRR", "cont_ndcg": "continuation NDCG",
    "coverage": "catalog coverage", "tag_coherence": "tag coherence",
    "unknown_frac": "share with an unseen song", "n_queries": "transitions scored",
    "n_unique_seeds": "distinct seed songs", "cont_n": "playlists scored for continuation",
    "holdout_playlists": "held-out playlists", "holdout_frac_scored": "holdout share scored",
}
ORDER = list(KEY_LABELS)
BASELINE_COLUMNS = (("hr@10", "HR@10"), ("mrr@10", "MRR@10"), ("ndcg@10", "NDCG@10"),
                    ("cont_hr@10", "continuation HR@10"), ("coverage", "coverage"))
#: (stored key, table label, short name used in sentences)
BASELINE_NAMES = (
    ("cooccurrence_plays", "co-occurrence (pairs of plays)", "co-occurrence (plays)"),
    ("cooccurrence", "co-occurrence (playlists with both)", "co-occurrence (playlists)"),
    ("transitions", "transitions", "transitions"), ("popularity", "popularity", "popularity"))
#: The ratios shown as headline chips beside the model's own metrics.
RATIO_COLUMNS = ("hr@10", "mrr@10")
RATIO_HELP = ("this model's value divided by the best counting baseline's on the same held-out "
              "playlists (above 1× beats every baseline on this metric; one evaluation, no "
              "significance test)")
#: Metrics the promotion gate compares, as shown in the promote confirmation.
CONFIRM_METRICS = (("next", "hr@10", "next HR@10"),
                   ("similar", "tag_coherence", "similar tag coherence"))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def metric_label(key: str) -> str:
    """``cont_hr@10`` -> ``continuation HR@10``; unknown keys as they are."""
    base, at, k = key.partition("@")
    return KEY_LABELS.get(base, base.replace("_", " ")) + (f"@{k}" if at else "")


@bp.app_template_global("metric_name")
def metric_name(name: str) -> str:
    """A flattened or gate name (``next hr@10``, ``similar tag_coherence``) made readable."""
    section, _, key = name.partition(" ")
    if key and section in SECTION_LABELS:
        return f"{SECTION_LABELS[section]} · {metric_label(key)}"
    return metric_label(name)


@bp.app_template_filter("metric")
def fmt_metric(value: Any, name: str) -> str:
    """A metric value in its unit: ratios as ``1.085×``, counts as integers, else 4 decimals."""
    if _number(value):
        if name.endswith("over_best"):
            return f"{value:.3f}×"
        if name.startswith("n_") or name in ("cont_n", "holdout_playlists"):
            return fmt_num(int(value))
    return fmt_num(value)


def _sort_key(key: str) -> tuple[int, str]:
    base = key.partition("@")[0]
    return (ORDER.index(base) if base in ORDER else len(ORDER), key)


@bp.app_template_global("all_metrics")
def all_metrics(metrics: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """Every metric of the model as ``(readable name, shown value, help)``: next song first,
    then similar songs, HR before MRR before the counts (the baselines and the promotion gate
    have their own tables)."""
    metrics = metrics or {}
    sections = sorted((k for k, v in metrics.items()
                       if isinstance(v, Mapping) and k not in ("baselines", "gate")),
                      key=lambda k: (list(SECTION_LABELS).index(k)
                                     if k in SECTION_LABELS else len(SECTION_LABELS), k))
    rows = []
    for section in sections:
        for key in sorted(metrics[section], key=_sort_key):
            value = metrics[section][key]
            if not isinstance(value, Mapping):
                rows.append((metric_name(f"{section} {key}"), fmt_metric(value, key),
                             metric_help(key)))
    for key in sorted((k for k, v in metrics.items() if not isinstance(v, Mapping)),
                      key=_sort_key):
        rows.append((metric_label(key), fmt_metric(metrics[key], key), metric_help(key)))
    return rows


@bp.app_template_global("key_metrics")
def key_metrics(metrics: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """The headline metrics (next HR/MRR@k, similar HR@k, tag coherence) when present, else the
    first few flat ones: ``(label, shown value, help)``."""
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
    flat = [(k, v) for k, v in flatten(model_only) if _number(v)][:4]
    return [(k, fmt_metric(v, k.split()[-1]), metric_help(k.split()[-1])) for k, v in flat]


def _baselines(metrics: Mapping[str, Any]) -> list[tuple[str, str, Mapping[str, Any]]]:
    base = metrics.get("baselines")
    if not isinstance(base, Mapping):
        return []
    return [(label, short, base[key]) for key, label, short in BASELINE_NAMES
            if isinstance(base.get(key), Mapping)]


@bp.app_template_global("baseline_verdict")
def baseline_verdict(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The model's next-song metrics against the best counting baseline, column by column.

    ``columns``: per metric ``label``, ``ratio`` (model / best baseline, None when the best is
    0), ``best_name`` and ``behind``; ``ratios``: the headline chips (HR@10, MRR@10);
    ``behind``: ``[(baseline, [metric labels])]`` where a baseline beats the model. None
    without baselines.
    """
    metrics = metrics or {}
    ours, named = metrics.get("next"), _baselines(metrics)
    if not isinstance(ours, Mapping) or not named:
        return None
    columns = []
    for key, label in BASELINE_COLUMNS:
        values = [(short, row[key]) for _, short, row in named if _number(row.get(key))]
        if not values or not _number(ours.get(key)):
            continue
        best_name, best = max(values, key=lambda pair: pair[1])
        columns.append({"key": key, "label": label, "best_name": best_name,
                        "ratio": ours[key] / best if best > 0 else None,
                        "behind": ours[key] < best})
    behind: dict[str, list[str]] = {}
    for column in columns:
        if column["behind"]:
            behind.setdefault(column["best_name"], []).append(column["label"])
    ratios = [(f"next {c['label']} ÷ best baseline", f"{c['ratio']:.3f}×", RATIO_HELP)
              for c in columns if c["key"] in RATIO_COLUMNS and c["ratio"] is not None]
    return {"columns": columns, "ratios": ratios, "behind": list(behind.items()),
            "n_columns": len(columns)}


@bp.app_template_global("baseline_table")
def baseline_table(metrics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The model's ``next`` row beside the counting baselines of the same holdout, each cell
    ``(shown value, best in its column)``, or None."""
    metrics = metrics or {}
    ours, named = metrics.get("next"), _baselines(metrics)
    if not isinstance(ours, Mapping) or not named:
        return None
    rows = [("this model (next)", ours)] + [(label, row) for label, _, row in named]
    best = {}
    for key, _ in BASELINE_COLUMNS:
        values = [row.get(key) for _, row in rows if _number(row.get(key))]
        best[key] = max(values) if values else None
    cells = [(name, [(fmt_num(row.get(key)),
                      best[key] is not None and row.get(key) == best[key])
                     for key, _ in BASELINE_COLUMNS]) for name, row in rows]
    return {"columns": BASELINE_COLUMNS, "rows": cells}


@bp.app_template_global("gate_rule")
def gate_rule(gate: Mapping[str, Any]) -> str:
    """The gate's rule in words: ``at least production's value`` when the tolerance is 0."""
    tolerance = gate.get("tolerance") or 0
    if not _number(tolerance) or tolerance <= 0:
        return "each metric at least production's value"
    return f"each metric at least production's value minus {tolerance:.1%} of it"


def _value(metrics: Mapping[str, Any] | None, section: str, key: str) -> Any:
    part = (metrics or {}).get(section)
    return part.get(key) if isinstance(part, Mapping) else None


@bp.app_template_global("promote_question")
def promote_question(version: str, metrics: Mapping[str, Any] | None, current: str | None,
                     current_metrics: Mapping[str, Any] | None) -> str:
    """The promote confirmation: the candidate's and the current model's gate metrics."""
    lines = [f"Promote {version} to production?"]
    for section, key, label in CONFIRM_METRICS:
        mine, theirs = _value(metrics, section, key), _value(current_metrics, section, key)
        shown = fmt_num(mine) if _number(mine) else "not recorded"
        if current:
            shown += f" (current {current}: "
            shown += (fmt_num(theirs) if _number(theirs) else "not recorded") + ")"
        lines.append(f"{label}: {shown}")
    if not current:
        lines.append("No model is in production yet.")
    return "\n".join(lines)


@bp.app_template_global("chip_legend")
def chip_legend() -> list[tuple[str, str]]:
    """What the headline chips mean, for a legend that touch and keyboard users can open."""
    return [
        ("next HR@k", METRIC_HELP["hr"]),
        ("next MRR@k", METRIC_HELP["mrr"]),
        ("similar HR@k", "share of held-out next songs found among the k songs most similar "
                         "to the previous one (higher is better)"),
        ("tag coherence", METRIC_HELP["tag_coherence"]),
        ("÷ best baseline", RATIO_HELP),
        ("behind …", "the counting baseline that scores higher than this model on those "
                     "next-song metrics (the training run's page has the whole table)"),
    ]
