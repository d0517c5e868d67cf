"""Full offline evaluation on Yes.com (yes_big) over several seeded splits.

Usage::

    .venv/bin/python bench/evaluate_yes.py [--seeds 0 1 2] [--subset yes_big]

Per seed the playlists are split 70/10/20 (train/validation/test) with
:func:`recsys.ml.evaluate.split_train_val_test`; models are trained on
train+validation and scored on the test playlists only (:mod:`recsys.ml.compare`, the same
code as ``python -m recsys evaluate``). Settings were chosen on validation splits
(``bench/tune_yes.py``), never on these test splits.
Writes ``var/bench/evaluate_yes.json`` and prints a markdown table (mean ± std).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists, read_tags  # noqa: E402

from recsys.ml.compare import BASELINES, compare_methods, format_summary  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description="evaluate all methods on yes_big")
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--config", default=str(ROOT / "data" / "train.yaml"))
    ap.add_argument("--set", nargs="*", default=[], help="key=value setting overrides")
    ap.add_argument("--out", default="var/bench/evaluate_yes.json")
    args = ap.parse_args()

    settings = TrainSettings.from_yaml(args.config, overrides=args.set)
    playlists, tags = read_playlists(args.subset), read_tags(args.subset)
    t0 = time.perf_counter()
    result = compare_methods(
        playlists, tags, settings, args.seeds,
        on_seed=lambda s: print(f"seed {s} done ({time.perf_counter() - t0:.0f}s)",
                                file=sys.stderr))
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"subset": args.subset, **result}, indent=2))
    print(f"{args.subset}, seeds {args.seeds}, test = 20% of playlists, mean ± std\n")
    print(format_summary(result["summary"]))
    for name, value in result["ratios"].items():
        print(f"{name}: {value:.3f}")
    for seed in args.seeds:
        r = {x["method"]: x for x in result["runs"] if x["seed"] == seed}
        base = max(r[m]["hr@10"] for m in BASELINES)
        print(f"seed {seed}: next/best-baseline {r['p2v_next']['hr@10'] / base:.3f}, "
              f"similar/hands-on tags "
              f"{r['p2v_similar']['tag_coherence'] / r['handson_w2v_cosine']['tag_coherence']:.3f}")


if __name__ == "__main__":
    main()
