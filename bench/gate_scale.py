"""The promotion gate alone at scale, before and after, in one run: time per stage, same output.

Usage::

    export DATABASE_URL=sqlite:///$PWD/var/helper-gate/scale.db \
        RECSYS_VAR_DIR=$PWD/var/helper-gate/var
    .venv/bin/python bench/gate_scale.py [--candidate VERSION] [--holdout 0.05]
        [--before-rev 05a5b8c] [--order before,after] [--profile var/helper-gate/after.prof]

Runs :func:`recsys.jobs.gate.gate` on the store's production model and a candidate (default:
the newest other bundle) with ``gate.py``, ``evaluation.py`` and ``data.py`` of
``--before-rev`` (read with ``git show``) and with the current ones, in one process. Each
stage is timed by wrapping what the gate calls (opening a bundle with its checksums, reading
the holdout, the tags, scoring each bundle); the two runs' decisions, metrics, paired
differences and per-query ranks and tag values must be equal (ties aside: none at this scale).
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.db.session import make_engine  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.jobs import data as new_data  # noqa: E402
from recsys.jobs import evaluation as new_evaluation  # noqa: E402
from recsys.jobs import gate as new_gate  # noqa: E402
from recsys.recommend.model import ServingModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BEFORE_REV = "05a5b8c"  # the commit before this bench's changes


def module_at(rev: str, path: str, name: str) -> types.ModuleType:
    """``path`` of ``rev`` as a module named ``name``."""
    source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True,
                            capture_output=True, text=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
        fh.write(source)
    try:
        spec = importlib.util.spec_from_file_location(name, fh.name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    finally:
        Path(fh.name).unlink()
    return module


def timed_gate(gate_mod, data_mod, evaluation_mod, seconds: dict, captured: list):
    """``gate_mod.gate`` calling ``data_mod`` and ``evaluation_mod``, each stage timed into
    ``seconds`` and each ``bundle_metrics`` result (with its per-query arrays) kept."""
    def clock(label, fn):
        def run(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] = seconds.get(label, 0.0) + time.perf_counter() - started
        return run

    def metrics(*args, **kwargs):
        label = "scoring candidate" if not captured else "scoring production"
        out = clock(label, evaluation_mod.bundle_metrics)(*args, **kwargs)
        captured.append(dict(out, per_query=dict(out["per_query"])))
        return out

    data = types.SimpleNamespace(**{k: getattr(data_mod, k) for k in dir(data_mod)
                                    if not k.startswith("__")})
    data.load_holdout = clock("reading the holdout", data_mod.load_holdout)
    data.load_tags = clock("reading the tags", data_mod.load_tags)
    serving = types.SimpleNamespace(open=clock("opening both bundles (checksums)",
                                               ServingModel.open))
    gate_mod.data, gate_mod.bundle_metrics, gate_mod.ServingModel = data, metrics, serving
    return gate_mod.gate


def same(a: dict, b: dict) -> list[str]:
    """Where two bundles' metrics (with per-query arrays) differ."""
    out = []
    for mode in ("next", "similar"):
        for key in sorted(set(a[mode]) | set(b[mode])):
            if a[mode].get(key) != b[mode].get(key):
                out.append(f"{mode} {key}: {a[mode].get(key)} != {b[mode].get(key)}")
    for key, value in a["per_query"].items():
        if not np.array_equal(value, b["per_query"][key]):
            n = int((value != b["per_query"][key]).sum())
            out.append(f"per-query {key}: {n} of {len(value)} differ")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidate", default=None)
    parser.add_argument("--holdout", type=float, default=0.05)
    parser.add_argument("--before-rev", default=BEFORE_REV)
    parser.add_argument("--order", default="before,after")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the new gate")
    args = parser.parse_args()
    engine = make_engine(os.environ["DATABASE_URL"])
    store = ModelStore(Path(os.environ["RECSYS_VAR_DIR"]) / "models")
    current = store.current_version()
    candidate = args.candidate or [
        p.name for p in sorted(store.versions_dir.iterdir(), key=lambda p: p.stat().st_mtime)
        if p.is_dir() and p.name != current and not p.name.startswith(".")][-1]
    old_data = module_at(args.before_rev, "recsys/jobs/data.py", "former_data")
    old_evaluation = module_at(args.before_rev, "recsys/jobs/evaluation.py", "former_evaluation")
    old_gate = module_at(args.before_rev, "recsys/jobs/gate.py", "former_gate")
    versions = {"before": (old_gate, old_data, old_evaluation),
                "after": (new_gate, new_data, new_evaluation)}
    print(f"{time.strftime('%Y-%m-%d %H:%M')}: candidate {candidate}, production {current}, "
          f"holdout {args.holdout}; before = {args.before_rev}, load {os.getloadavg()[0]:.1f}")
    results = {}
    for label in args.order.split(","):
        seconds, captured = {}, []
        run = timed_gate(*versions[label], seconds, captured)
        profile = cProfile.Profile() if args.profile and label == "after" else None
        started = time.perf_counter()
        if profile:
            profile.enable()
        decision = run(engine, store, candidate, holdout_frac=args.holdout)
        if profile:
            profile.disable()
            profile.dump_stats(args.profile)
        seconds["**whole gate**"] = time.perf_counter() - started
        results[label] = seconds, captured, decision
        print(f"{label}: {seconds['**whole gate**']:.1f} s, {decision.reason}, "
              f"load {os.getloadavg()[0]:.1f}", flush=True)
    (t0, c0, d0), (t1, c1, d1) = results["before"], results["after"]
    print("\n| stage | before s | after s | ratio |\n|---|---:|---:|---:|")
    for name in [*(n for n in t0 if n != "**whole gate**"), "**whole gate**"]:
        print(f"| {name} | {t0[name]:.1f} | {t1[name]:.1f} | {t0[name] / t1[name]:.1f}× |")
    diffs = [f"{who}: {d}" for who, a, b in (("candidate", c0[0], c1[0]),
                                              ("production", c0[1], c1[1])) for d in same(a, b)]
    diffs += [] if (d0.promote, d0.reason) == (d1.promote, d1.reason) else ["verdict/reason"]
    diffs += [f"difference {k}" for k in d0.differences
              if d0.differences[k] != d1.differences.get(k)]
    n_ranks, n_tags = len(c1[0]["per_query"]["next_ranks"]), len(c1[0]["per_query"]["tag_values"])
    print(f"\nsame output ({n_ranks:,} next-song ranks, {n_tags:,} tag values per model, the "
          f"metrics, paired differences and verdict): {diffs or 'yes'}")


if __name__ == "__main__":
    main()
