"""The figures of one ``bench/swap_under_load.py`` run: answers by status, mixed and stale
answers, propagation time, latency inside and outside swaps and operator accidents, and the
workers' resources (latency in ms)."""

from __future__ import annotations

import numpy as np


def pct(values, q) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if len(values) else float("nan")


def report(records, swaps, tallies, ops, res_start, samples, res_end, t_end) -> dict:
    """The figures of one run (latency in ms)."""
    t = np.array([r[0] for r in records])
    lat = np.array([r[1] for r in records])
    status = np.array([r[3] for r in records])
    in_swap = np.zeros(len(t), dtype=bool)
    for s in swaps:
        end = (s["propagated"] or s["issued"] + 20) + 1.0
        in_swap |= (t >= s["started"]) & (t < end)
    in_ops = np.zeros(len(t), dtype=bool)
    for w in ops:
        in_ops |= (t >= w["start"]) & (t < w["end"])
    calm = ~in_swap & ~in_ops
    stale = 0
    versions = [v for tally in tallies for v in tally.versions]
    for s, nxt in zip(swaps, [*swaps[1:], None], strict=True):
        if s["propagated"] is None:
            continue
        until = nxt["started"] if nxt else (ops[0]["start"] if ops else t_end)
        stale += sum(1 for t0, t1, v in versions
                     if t0 > s["propagated"] and t1 < until and v != s["target"])
    prop = [s["propagated"] - s["started"] for s in swaps if s["propagated"]]
    cli = [s["issued"] - s["started"] for s in swaps]
    swapping = in_swap & ~in_ops
    out = {
        "requests": len(t),
        "by_status": {int(k): int(v) for k, v in zip(*np.unique(status, return_counts=True),
                                                    strict=True)},
        "connection_errors": _sum_dicts(tally.errors for tally in tallies),
        "not_modified": sum(tally.not_modified for tally in tallies),
        "mixed": sum(len(tally.mixed) for tally in tallies),
        "mixed_examples": [m for tally in tallies for m in tally.mixed][:5],
        "stale_after_propagation": stale,
        "swaps": len(swaps), "swaps_not_propagated": sum(s["propagated"] is None for s in swaps),
        # from the command's start (its process start-up included) to every worker on it
        "propagation_s": {"p50": round(float(np.median(prop)), 2) if prop else None,
                          "max": round(max(prop), 2) if prop else None,
                          "command_p50": round(float(np.median(cli)), 2)},
        "latency_ms": {name: {"n": int(m.sum()), "p50": pct(lat[m], 50), "p99": pct(lat[m], 99),
                              "max": pct(lat[m], 100),
                              "non2xx": int(((status[m] >= 300) & (status[m] != 304)).sum())}
                       for name, m in (("calm", calm), ("swapping", swapping))},
        "resources": {"start": res_start, **samples, "end": res_end},
        "ops": [],
    }
    for w in ops:
        m = (t >= w["start"]) & (t < w["end"])
        out["ops"].append({**{k: v for k, v in w.items() if k not in ("start", "end")},
                           "n": int(m.sum()), "by_status": {int(k): int(v) for k, v in zip(
                               *np.unique(status[m], return_counts=True), strict=True)},
                           "p99_ms": pct(lat[m], 99), "max_ms": pct(lat[m], 100)})
    return out


def _sum_dicts(dicts) -> dict:
    total: dict = {}
    for d in dicts:
        for k, v in d.items():
            total[k] = total.get(k, 0) + v
    return total
