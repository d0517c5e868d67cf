"""Research: which count terms to add to the ``next`` blend (validation splits of yes_big only).

Usage::

    .venv/bin/python bench/next_count_blend.py --seeds 0 1 2          # fixed blends, ~2.5 min/seed
    .venv/bin/python bench/next_count_blend.py --seeds 0 --search     # + coordinate ascent
    .venv/bin/python bench/next_count_blend.py --seeds 0 1 2 --joint  # one ascent, all seeds

Per seed: train = 70%, validation = 10% of playlists (``split_train_val_test``); word2vec =
``data/train.yaml`` with ``seed=<seed>`` trained on train. Every blend is a weighted sum of dense
terms, scored on every validation transition (HR@10 / MRR@10):

``dot``  in[s].out[c];  ``lpop``  log count[c];  ``lc``  log1p co-occurrence (playlists with
both);  ``lr``  log1p co-occurrence with repeats;  ``lt``  log1p transitions s->c;
``lf`` / ``lb``  log1p forward / backward pair counts weighted exp(-(d-1)/10) over distance d;
``lf1``  the same forward counts with exp(-(d-1)), d <= 12.
``--search`` starts from the committed blend and moves one weight at a time over a grid (two
rounds), keeping a change only when validation HR@10 rises by more than 1e-4. ``--joint`` runs
one such ascent from the committed default over every given seed at once, on the mean of the
seeds' HR@10 ratios to co-occurrence (memory: ≈2.5 GB of dense terms per seed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402
from next_variants import Dense, forward_counts  # noqa: E402

from recsys.ml.baselines import (  # noqa: E402
    cooccurrence_matrix,
    item_index,
    pair_matrix,
    popularity_counts,
)
from recsys.ml.evaluate import next_song_metrics, split_train_val_test  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402

BLENDS = {
    "co-occurrence + 0 (baseline)": {"lc": 1.0},
    "session 3: dot + 0.5 lpop + 4 lc": {"dot": 1, "lpop": 0.5, "lc": 4},
    "dot + 0.5 lpop + 4 lc + 1 lt": {"dot": 1, "lpop": 0.5, "lc": 4, "lt": 1},
    "dot + 0.5 lpop + 4 lc + 2 lt": {"dot": 1, "lpop": 0.5, "lc": 4, "lt": 2},
    "dot + 0.5 lpop + 4 lc + 3 lt": {"dot": 1, "lpop": 0.5, "lc": 4, "lt": 3},
    "dot + 0.5 lpop + 4 lc + 4 lt": {"dot": 1, "lpop": 0.5, "lc": 4, "lt": 4},
    "dot + 0.75 lpop + 4 lc + 1 lt": {"dot": 1, "lpop": 0.75, "lc": 4, "lt": 1},
    "dot + 0.75 lpop + 4 lc + 1 lt + 2 lf": {"dot": 1, "lpop": 0.75, "lc": 4, "lt": 1, "lf": 2},
    "dot + 0.5 lpop + 4 lc + 3 lf1": {"dot": 1, "lpop": 0.5, "lc": 4, "lf1": 3},
    "dot + 0.5 lpop + 4 lr + 3 lt": {"dot": 1, "lpop": 0.5, "lr": 4, "lt": 3},
    "dot + 1 lpop + 4 lr + 4 lt (session-4 default)": {"dot": 1, "lpop": 1, "lr": 4, "lt": 4},
    "dot + 1 lpop + 6 lr + 4 lt": {"dot": 1, "lpop": 1, "lr": 6, "lt": 4},
}
JOINT_START = {"dot": 1, "lpop": 1, "lr": 4, "lt": 4, "lc": 0, "lf": 0}
JOINT_GRID = {"dot": [0.5, 1, 1.5, 2], "lpop": [0.5, 0.75, 1, 1.25, 1.5], "lr": [2, 3, 4, 5, 6],
              "lt": [2, 3, 4, 5, 6], "lc": [0, 1, 2], "lf": [0, 1, 2]}
GRID = {"lpop": [0, 0.25, 0.5, 0.75, 1.0], "lc": [0, 1, 2, 3, 4, 6], "lr": [0, 1, 2, 4],
        "lf": [0, 0.5, 1, 2, 3], "lb": [0, 0.5, 1, 2], "lt": [0, 0.5, 1, 2, 3, 4]}


def _dense(mat) -> np.ndarray:
    out = (mat.toarray() if sp.issparse(mat) else mat).astype(np.float32)
    np.fill_diagonal(out, 0)
    return out


def terms(train_pl, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Item ids, the dense score terms, and a float64 popularity tie-break."""
    ids = item_index(train_pl)
    row = {int(s): i for i, s in enumerate(ids)}
    n = len(ids)
    pop = popularity_counts(train_pl, row, n).astype(np.float64)
    fwd = forward_counts(train_pl, row, n, tau=10)
    fwd1 = forward_counts(train_pl, row, n, tau=1, max_d=12)
    # the co-occurrence tables the served blend uses (binary, and pairs of plays)
    t = {"lc": np.log1p(_dense(cooccurrence_matrix(train_pl, row, n))),
         "lr": np.log1p(_dense(cooccurrence_matrix(train_pl, row, n, repeats=True))),
         "lf": np.log1p(fwd), "lb": np.log1p(fwd.T.copy()), "lf1": np.log1p(fwd1),
         "lt": np.log1p(_dense(pair_matrix(train_pl, row, n, window=1))),
         "lpop": np.broadcast_to(np.log(np.maximum(pop, 1)).astype(np.float32), (n, n))}
    model = train(train_pl, TrainSettings.from_yaml(ROOT / "data" / "train.yaml").replace(
        seed=seed))
    pos = np.searchsorted(ids, model.song_ids)
    vin = np.zeros((n, model.in_vectors.shape[1]), np.float32)
    vout = np.zeros_like(vin)
    vin[pos], vout[pos] = model.in_vectors, model.out_vectors
    t["dot"] = vin @ vout.T
    return ids, t, 1e-6 * pop / pop.max()


def blend_metrics(ids, t, tie, val_pl, w: dict[str, float]) -> tuple[float, float]:
    """Validation HR@10 and MRR@10 of the blend ``sum_k w[k] * t[k]``."""
    total = sum(np.float32(v) * t[k] for k, v in w.items() if v) + tie
    res = next_song_metrics(Dense(ids, total), val_pl, 10)
    return res["hr@10"], res["mrr@10"]


def joint_search(cases: list[tuple]) -> None:
    """Coordinate ascent from JOINT_START on the mean HR@10 ratio over ``cases``."""
    bases = [blend_metrics(*case, {"lc": 1.0})[0] for case in cases]

    def objective(w: dict[str, float]) -> tuple[float, list[float]]:
        ratios = [blend_metrics(*case, w)[0] / b for case, b in zip(cases, bases, strict=True)]
        return float(np.mean(ratios)), ratios

    w = dict(JOINT_START)
    best, ratios = objective(w)
    print(f"joint start {json.dumps(w)}: mean ratio {best:.4f} {np.round(ratios, 3).tolist()}")
    for _ in range(2):
        for key, values in JOINT_GRID.items():
            for v in values:
                if v == w[key]:
                    continue
                cand = dict(w, **{key: v})
                value, cand_ratios = objective(cand)
                if value > best + 1e-4:
                    best, ratios, w = value, cand_ratios, cand
                    print(f"  {json.dumps(w)}: {best:.4f} {np.round(ratios, 3).tolist()}",
                          flush=True)
    print(f"joint end {json.dumps(w)}: mean ratio {best:.4f} {np.round(ratios, 3).tolist()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--joint", action="store_true")
    args = ap.parse_args()
    playlists = read_playlists("yes_big")
    if args.joint:
        cases = []
        for seed in args.seeds:
            train_pl, val_pl, _ = split_train_val_test(playlists, 0.1, 0.2, seed)
            ids, t, tie = terms(train_pl, seed)
            cases.append((ids, {k: t[k] for k in JOINT_START}, tie, val_pl))
        joint_search(cases)
        return
    print("| seed | blend | HR@10 | MRR@10 | HR / co-occurrence |\n|---|---|---|---|---|")
    for seed in args.seeds:
        train_pl, val_pl, _ = split_train_val_test(playlists, 0.1, 0.2, seed)
        ids, t, tie = terms(train_pl, seed)

        def score(w: dict[str, float], case=(ids, t, tie, val_pl)) -> tuple[float, float]:
            return blend_metrics(*case, w)

        base = None
        for name, w in BLENDS.items():
            hr, mrr = score(w)
            base = base or hr
            print(f"| {seed} | {name} | {hr:.4f} | {mrr:.4f} | {hr / base:.3f} |", flush=True)
        if args.search:
            w = dict(BLENDS["session 3: dot + 0.5 lpop + 4 lc"], lr=0, lf=0, lb=0, lt=0)
            best = score(w)[0]
            for _ in range(2):
                for key, values in GRID.items():
                    for v in values:
                        cand = dict(w, **{key: v})
                        hr = score(cand)[0]
                        if hr > best + 1e-4:
                            best, w = hr, cand
            print(f"| {seed} | search: {json.dumps(w)} | {best:.4f} | | {best / base:.3f} |")


if __name__ == "__main__":
    main()
