"""How noisy is the promotion gate? Equally good retrains and a worse one against production.

Usage::

    .venv/bin/python bench/gate_noise.py [--yes-dir ../shared/data/yes/yes_big] \
        [--var-dir var/bench/gate-noise] [--repeats 4] [--worse next_transition_weight=0]

Builds (once) a database and a promoted yes_big model under ``--var-dir`` with the project's
own commands (``bench/_http_setup.build_yes_setup``: ``db upgrade``, ``import yes``,
``train --promote`` with data/train.yaml). Then trains ``--repeats`` candidates with the same
settings but other word2vec seeds (what a nightly retrain on unchanged data produces) and one
candidate with ``--worse`` overrides (a model that is really worse), and runs the production
gate (:func:`recsys.jobs.gate.gate`, stable 10% holdout) on each. For every candidate it prints
the paired difference of ``next`` HR@10 and of tag coherence with their clustered standard
errors, and which candidates four gate rules would promote: ``--tolerance 0`` (the default),
``--tolerance 0.01``, ``--noise-z 1`` and ``--noise-z 2``. Results go to
``<var-dir>/gate_noise.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http_setup import build_yes_setup  # noqa: E402
from _yesdata import yes_dir  # noqa: E402

from recsys.db.session import make_engine  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.jobs.gate import compare, gate  # noqa: E402
from recsys.jobs.training import train_and_bundle  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402

RULES = {"tolerance 0": (0.0, 0.0), "tolerance 0.01": (0.01, 0.0),
         "noise-z 1": (0.0, 1.0), "noise-z 2": (0.0, 2.0)}
METRICS = (("next hr@10", "next", "hr@10"), ("similar tag_coherence", "similar", "tag_coherence"))


def measure(engine, store, name: str, settings: TrainSettings) -> dict:
    """Train one candidate, gate it against production, and apply every rule."""
    t0 = time.perf_counter()
    version = train_and_bundle(engine, store, settings, holdout_frac=0.1,
                               backend="exact").version
    decision = gate(engine, store, version, holdout_frac=0.1)
    row = {"candidate": name, "version": version, "seconds": round(time.perf_counter() - t0)}
    for key, mode, metric in METRICS:
        diff = decision.differences[key]
        row[key] = {"candidate": decision.candidate[mode][metric],
                    "production": decision.production[mode][metric],
                    "diff": diff.mean, "se": diff.se, "z": diff.mean / diff.se, "n": diff.n}
    row["promoted_by"] = {rule: compare(decision.candidate, decision.production, tol,
                                        decision.differences, z)[0]
                          for rule, (tol, z) in RULES.items()}
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--yes-dir", type=Path, default=yes_dir() / "yes_big")
    ap.add_argument("--var-dir", type=Path, default=REPO / "var" / "bench" / "gate-noise")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--worse", nargs="*", default=["next_transition_weight=0"])
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    model_dir, db_url = build_yes_setup(args.yes_dir, args.var_dir, [])
    engine, store = make_engine(db_url), ModelStore(model_dir)
    base = TrainSettings.from_yaml(REPO / "data" / "train.yaml")
    rows = [measure(engine, store, f"same settings, seed {base.seed + i + 1}",
                    base.replace(seed=base.seed + i + 1)) for i in range(args.repeats)]
    rows.append(measure(engine, store, "worse: " + " ".join(args.worse),
                        base.with_overrides(args.worse)))
    print("\n| candidate | next HR@10 cand / prod | diff ± SE (z) | tag coherence diff ± SE (z) | "
          + " | ".join(RULES) + " |")
    print("|---" * (4 + len(RULES)) + "|")
    for r in rows:
        nxt, tag = r["next hr@10"], r["similar tag_coherence"]
        print(f"| {r['candidate']} | {nxt['candidate']:.4f} / {nxt['production']:.4f} | "
              f"{nxt['diff']:+.4f} ± {nxt['se']:.4f} ({nxt['z']:+.2f}) | "
              f"{tag['diff']:+.4f} ± {tag['se']:.4f} ({tag['z']:+.2f}) | "
              + " | ".join("yes" if r["promoted_by"][k] else "no" for k in RULES) + " |")
    out = args.var_dir / "gate_noise.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"\nqueries: {rows[0]['next hr@10']['n']} held-out transitions; written {out}")


if __name__ == "__main__":
    main()
