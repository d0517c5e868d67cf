"""Full offline evaluation on Yes.com (yes_big) over several seeded splits.

Usage::

    .venv/bin/python bench/evaluate_yes.py [--seeds 0 1 2] [--subset yes_big]

Per seed the playlists are split 70/10/20 (train/validation/test) with
:func:`recsys.ml.evaluate.split_train_val_test`; models are trained on
train+validation and scored on the test playlists only.  Settings were chosen
on validation splits (``bench/tune_yes.py``), never on these test splits.
Writes ``var/bench/evaluate_yes.json`` and prints a markdown table (mean +- std).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists, read_tags  # noqa: E402

from recsys.ml.baselines import (  # noqa: E402
    PopularityRecommender,
    cooccurrence_recommender,
    transition_recommender,
)
from recsys.ml.evaluate import evaluate, split_train_val_test  # noqa: E402
from recsys.ml.scoring import W2VSimilar, next_recommender  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402

HANDS_ON = TrainSettings(vector_size=32, window=20, negative=50, min_count=1, sg=0, epochs=5,
                         sample=1e-3, ns_exponent=0.75, use_corpus_file=False)
"""Hands-On LLM ch. 2: Word2Vec(vector_size=32, window=20, negative=50, min_count=1),
gensim defaults otherwise (CBOW, 5 epochs); cosine neighbours for both modes."""

METRICS = ["hr@10", "mrr@10", "ndcg@10", "cont_hr@10", "coverage", "tag_coherence",
           "unknown_frac", "train_s"]


def run_seed(playlists, tags, settings: TrainSettings, seed: int) -> list[dict]:
    train_pl, val_pl, test_pl = split_train_val_test(playlists, 0.1, 0.2, seed=seed)
    fit = train_pl + val_pl
    rows = []
    for name, rec in [("popularity", PopularityRecommender(fit)),
                      ("transitions", transition_recommender(fit)),
                      ("cooccurrence", cooccurrence_recommender(fit))]:
        rows.append(evaluate(name, rec, test_pl, tags=tags))
    ho = train(fit, HANDS_ON.replace(seed=seed))
    rows.append(evaluate("handson_w2v_cosine", W2VSimilar(ho), test_pl, tags=tags,
                         extra={"train_s": ho.stats["train_s"]}))
    model = train(fit, settings.replace(seed=seed))
    extra = {"train_s": model.stats["train_s"]}
    rows.append(evaluate("p2v_similar", W2VSimilar(model), test_pl, tags=tags, extra=extra))
    rows.append(evaluate("p2v_next", next_recommender(model, fit), test_pl, tags=tags,
                         extra=extra))
    for r in rows:
        r["seed"] = seed
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        agg: dict = {"method": method, "n_seeds": len(mine)}
        for m in METRICS:
            vals = [r[m] for r in mine if m in r]
            if vals:
                agg[m] = float(np.mean(vals))
                agg[m + "_std"] = float(np.std(vals))
        out.append(agg)
    return out


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
    rows = []
    for seed in args.seeds:
        rows += run_seed(playlists, tags, settings, seed)
        print(f"seed {seed} done ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    summary = summarise(rows)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"subset": args.subset, "seeds": args.seeds,
                               "settings": settings.to_dict(), "summary": summary,
                               "runs": rows}, indent=2))
    print(f"{args.subset}, seeds {args.seeds}, test = 20% of playlists, mean ± std\n")
    print("| method | " + " | ".join(METRICS) + " |")
    print("|---|" + "---|" * len(METRICS))
    for s in summary:
        cells = [f"{s[m]:.4f} ± {s[m + '_std']:.4f}" if m in s else "" for m in METRICS]
        print(f"| {s['method']} | " + " | ".join(cells) + " |")
    by = {s["method"]: s for s in summary}
    best_base = max(by[m]["hr@10"] for m in ("popularity", "transitions", "cooccurrence"))
    print(f"\np2v_next HR@10 / best counting baseline = {by['p2v_next']['hr@10'] / best_base:.3f}"
          f" (need >= 1.15)")
    print(f"p2v_similar tag coherence / hands-on = "
          f"{by['p2v_similar']['tag_coherence'] / by['handson_w2v_cosine']['tag_coherence']:.3f}"
          f" (need >= 1.10)")
    for seed in args.seeds:
        r = {x["method"]: x for x in rows if x["seed"] == seed}
        base = max(r[m]["hr@10"] for m in ("popularity", "transitions", "cooccurrence"))
        print(f"seed {seed}: next/best-baseline {r['p2v_next']['hr@10'] / base:.3f}, "
              f"similar/hands-on tags "
              f"{r['p2v_similar']['tag_coherence'] / r['handson_w2v_cosine']['tag_coherence']:.3f}")


if __name__ == "__main__":
    main()
