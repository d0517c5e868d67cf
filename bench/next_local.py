"""Research: is single-seed next-song HR@10 on yes_big data-limited? Learning curves and
local / directed word2vec models blended with co-occurrence.

Usage::

    .venv/bin/python bench/next_local.py [--seed 0] [--epochs 30] [--skip-w2v]

Split 70/10/20 with :func:`recsys.ml.evaluate.split_train_val_test`; everything is scored on
the validation transitions ``s_i -> s_{i+1}`` (single seed, the seed excluded, top 10 by
``argpartition``; unknown seeds or targets are misses).

Part 1, learning curves: co-occurrence (playlists holding both songs), transition counts and
``log1p cooc + 0.5 log1p trans`` fitted on 25/50/75/100% of the training playlists. A counting
estimator whose HR@10 still climbs with data is data-limited, and smoothing it (an embedding)
can pay; one that has flattened is close to what its statistic can give.  ``--curve-w2v`` also
trains the default model (``data/train.yaml``, its default blend, no re-tuning) on each subset.

Part 2, word2vec variants (``data/train.yaml`` with the overrides printed), each scored as the
raw ``in.out`` dot and as the best validation blend ``dot + a log count + b log1p cooc`` over
``a in {0, 0.5, 1}``, ``b in {0, 1, 2, 4}``: the default model (window 20); local models
(window 1/2/3, ns_exponent 0 or 0.75, alone and added to the default model's dot); a directed
model trained on two-token sentences ``[s_i, NEXT(s_{i+1})]`` so ``in[s].out[NEXT(c)]`` models
forward transitions only.  Findings are summarised in docs/ml.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402

from recsys.ml.baselines import cooccurrence_matrix, pair_matrix, popularity_counts  # noqa: E402
from recsys.ml.evaluate import split_train_val_test  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import TrainedModel, train  # noqa: E402

NEXT = 1_000_000  # token offset of the "next song" vocabulary in the directed corpus


class Queries:
    """Validation transitions grouped by unique seed."""

    def __init__(self, playlists: list[list[int]]) -> None:
        pairs = np.array([(p[i], p[i + 1]) for p in playlists for i in range(len(p) - 1)])
        self.seeds, self.inv = np.unique(pairs[:, 0], return_inverse=True)
        self.targets = pairs[:, 1]

    def hr(self, scores: np.ndarray) -> float:
        """HR@10 of ``scores`` (``len(seeds) x n``) over every transition."""
        scores = scores.copy()
        scores[np.arange(len(self.seeds)), self.seeds] = -np.inf
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        return float((top[self.inv] == self.targets[:, None]).any(axis=1).mean())


def counts(playlists: list[list[int]], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense co-occurrence, transition and popularity counts (songs indexed by id)."""
    ident = {s: s for s in range(n)}
    cooc = cooccurrence_matrix(playlists, ident, n).toarray()
    trans = pair_matrix(playlists, ident, n, window=1).toarray()
    np.fill_diagonal(trans, 0)
    return cooc, trans, popularity_counts(playlists, ident, n)


def learning_curve(train_pl: list[list[int]], q: Queries, n: int, seed: int,
                   base: TrainSettings | None) -> None:
    """HR@10 of the counting baselines (and, with ``base``, of the default ``next`` blend)."""
    print("| training playlists | co-occurrence | transitions | log1p cooc + 0.5 log1p trans |"
          + (" ours (default blend) | ours / best counting |" if base else ""))
    print("|---|---|---|---|" + ("---|---|" if base else ""))
    order = np.random.default_rng(seed).permutation(len(train_pl))
    for frac in (0.25, 0.5, 0.75, 1.0):
        sub = [train_pl[i] for i in order[: int(frac * len(train_pl))]]
        cooc, trans, pop = counts(sub, n)
        tie = 1e-6 * pop[None, :]
        c, t = cooc[q.seeds], trans[q.seeds]
        hrs = [q.hr(c + tie), q.hr(t + tie), q.hr(np.log1p(c) + 0.5 * np.log1p(t) + tie)]
        line = f"| {len(sub):,} ({frac:.0%}) | " + " | ".join(f"{h:.4f}" for h in hrs) + " |"
        if base is not None:
            vin, vout = dense_vectors(train(sub, base), n, directed=False)
            score = base.next_w2v_weight * (vin[q.seeds] @ vout.T)
            score += base.next_pop_weight * np.log(np.maximum(pop, 1))[None, :]
            ours = q.hr(score + base.next_cooc_weight * np.log1p(c))
            line += f" {ours:.4f} | {ours / max(hrs):.3f} |"
        print(line, flush=True)


def dense_vectors(model: TrainedModel, n: int, directed: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(in, out)`` matrices indexed by song id; directed: out = the NEXT-token vectors."""
    d = model.in_vectors.shape[1]
    vin, vout = np.zeros((n, d), np.float32), np.zeros((n, d), np.float32)
    for r, sid in enumerate(model.song_ids.tolist()):
        if sid >= NEXT:
            vout[sid - NEXT] = model.out_vectors[r]
            continue
        vin[sid] = model.in_vectors[r]
        if not directed:
            vout[sid] = model.out_vectors[r]
    return vin, vout


def word2vec_variants(train_pl, q: Queries, n: int, base: TrainSettings, epochs: int) -> None:
    cooc, _, pop = counts(train_pl, n)
    lpop, tie = np.log(np.maximum(pop, 1))[None, :], 1e-6 * pop[None, :]
    lc = np.log1p(cooc[q.seeds])

    def row(name: str, dot: np.ndarray) -> None:
        best = max((q.hr(dot + a * lpop + b * lc + tie), a, b)
                   for a in (0.0, 0.5, 1.0) for b in (0.0, 1.0, 2.0, 4.0))
        print(f"| {name} | {q.hr(dot + tie):.4f} | {best[0]:.4f} | a={best[1]}, b={best[2]} |",
              flush=True)

    print("\n| word2vec variant | in.out | best blend | blend weights |\n|---|---|---|---|")
    print(f"| co-occurrence alone | | {q.hr(cooc[q.seeds] + tie):.4f} | |")
    vin, vout = dense_vectors(train(train_pl, base), n, directed=False)
    default = vin[q.seeds] @ vout.T
    row("default (window 20, ns_exponent 0, 10 epochs)", default)
    for window in (1, 2, 3):
        for ns in (0.0, 0.75):
            local = base.replace(window=window, ns_exponent=ns, epochs=epochs)
            vin, vout = dense_vectors(train(train_pl, local), n, directed=False)
            dot = vin[q.seeds] @ vout.T
            row(f"window {window}, ns_exponent {ns}, {epochs} epochs", dot)
            row("  + the default model's dot", dot + default)
    pairs = [[p[i], NEXT + p[i + 1]] for p in train_pl for i in range(len(p) - 1)]
    for ns in (0.0, 0.75):
        directed = base.replace(window=1, ns_exponent=ns, epochs=epochs, sample=0.0)
        vin, vout = dense_vectors(train(pairs, directed), n, directed=True)
        dot = vin[q.seeds] @ vout.T
        row(f"directed pairs, ns_exponent {ns}, {epochs} epochs", dot)
        row("  + the default model's dot", dot + default)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=30, help="epochs of the local/directed models")
    ap.add_argument("--skip-w2v", action="store_true", help="learning curves only")
    ap.add_argument("--curve-w2v", action="store_true",
                    help="also train the default model on every learning-curve subset")
    args = ap.parse_args()
    t0 = time.perf_counter()
    playlists = read_playlists("yes_big")
    n = max(max(p) for p in playlists) + 1
    train_pl, val_pl, _ = split_train_val_test(playlists, 0.1, 0.2, args.seed)
    q = Queries(val_pl)
    print(f"seed {args.seed}: {len(train_pl):,} training playlists, "
          f"{len(q.targets):,} validation transitions\n")
    base = TrainSettings.from_yaml(ROOT / "data" / "train.yaml").replace(seed=args.seed)
    learning_curve(train_pl, q, n, args.seed, base if args.curve_w2v else None)
    if not args.skip_w2v:
        word2vec_variants(train_pl, q, n, base, args.epochs)
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
