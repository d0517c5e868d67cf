"""Tuning run on yes_big: search on the VALIDATION split (never the test split).

Usage::

    .venv/bin/python bench/tune_yes.py [--seed 0] [--trials N] [--space space.json] [--out F]

Split: :func:`recsys.ml.evaluate.split_train_val_test` (70/10/20 by playlist);
training on the 70%, scoring next-song HR@10 on the 10% validation playlists.
The 20% test playlists of each seed are only used by ``bench/evaluate_yes.py``.
Writes ``--out`` (default ``var/bench/tune_yes_seed<seed>.json``) and prints the top rows.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists, read_tags  # noqa: E402

from recsys.ml.baselines import cooccurrence_recommender  # noqa: E402
from recsys.ml.evaluate import format_table, next_song_metrics, split_train_val_test  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.tune import tune  # noqa: E402

SPACE = {
    "ns_exponent": [-0.5, 0.0, 0.75],
    "window": [10, 20, 50],
    "vector_size": [64, 128],
    "sample": [1e-3, 1e-4],
    "next_pop_weight": [0.5, 1.0],
    "next_cooc_weight": [0.0, 1.0, 2.0, 4.0],
}


def main() -> None:
    ap = argparse.ArgumentParser(description="tune word2vec on a yes_big validation split")
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trials", type=int, default=None, help="random subset of trainings")
    ap.add_argument("--space", default=None, help="JSON file {field: [values]}")
    ap.add_argument("--base", nargs="*", default=[], help="key=value base settings")
    ap.add_argument("--out", type=Path, help="default: var/bench/tune_yes_seed<seed>.json")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("gensim").setLevel(logging.WARNING)
    space = json.loads(Path(args.space).read_text()) if args.space else SPACE
    base = TrainSettings(window=20, negative=20, epochs=10, sg=1).with_overrides(args.base)
    playlists = read_playlists(args.subset)
    train_pl, val_pl, _test = split_train_val_test(playlists, 0.1, 0.2, seed=args.seed)
    results = tune(train_pl, val_pl, space, base=base, n_trials=args.trials, seed=args.seed,
                   tags=read_tags(args.subset))
    cooc = next_song_metrics(cooccurrence_recommender(train_pl), val_pl)["hr@10"]
    out = args.out or ROOT / "var" / "bench" / f"tune_yes_seed{args.seed}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"seed": args.seed, "base": base.to_dict(), "space": space,
                               "val_cooccurrence_hr@10": cooc, "results": results}, indent=2))
    cols = [*space, "hr@10", "mrr@10", "coverage", "sim_tag_coherence", "train_s"]
    print(format_table(results[:15], cols))
    print(f"\nvalidation co-occurrence baseline HR@10 = {cooc:.4f}; "
          f"best = {results[0]['hr@10']:.4f} ({results[0]['hr@10'] / cooc:.3f}x)")


if __name__ == "__main__":
    main()
