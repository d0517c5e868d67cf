"""Evaluation at catalog scale: time and peak memory of ``MatrixRecommender.topk_rows`` (every
offline metric's inner loop), 1,024 seeds a block (before) against the bounded block.

Usage::

    .venv/bin/python bench/scale_eval.py [--items 246740] [--seeds 2048] [--runs 2]

A ``next``-like recommender (64-dim input and output vectors, popularity, two sparse count
tables of ≈20 entries a row, as :class:`recsys.ml.scoring.W2VNext`) over ``--items`` songs
scores ``--seeds`` seeds, each configuration in a fresh interpreter (peak RSS, ``ru_maxrss``),
alternated, best of ``--runs``. Prints seconds per 1,000 seeds, which times the number of
unique seeds of a holdout gives one pass of the evaluation.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PROBE = """
import resource, sys, time
import numpy as np, scipy.sparse as sp
sys.path.insert(0, sys.argv[1])
from recsys.ml.base import MatrixRecommender

n, n_seeds, chunk = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) or None
rng = np.random.default_rng(0)


def table():
    nnz = 20 * n
    m = sp.csr_matrix((rng.random(nnz, dtype=np.float32) + 1,
                       (rng.integers(0, n, nnz), rng.integers(0, n, nnz))), shape=(n, n))
    m.sum_duplicates()
    return m


class Next(MatrixRecommender):
    def __init__(self):
        super().__init__(np.arange(n))
        self.inv = rng.standard_normal((n, 64), dtype=np.float32)
        self.outv = rng.standard_normal((n, 64), dtype=np.float32)
        self.pop = np.log1p(rng.zipf(1.5, n).clip(max=10**5)).astype(np.float32)
        self.tables = [table(), table()]

    def score_rows(self, rows):
        scores = self.inv[rows] @ self.outv.T
        scores += self.pop
        for t in self.tables:
            scores += t[rows].toarray()
        return scores


rec = Next()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seeds = rng.choice(n, n_seeds, replace=False)
t0 = time.perf_counter()
rec.topk_rows(seeds, 10, chunk=chunk)
took = time.perf_counter() - t0
print(took, base / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def run(items: int, seeds: int, chunk: int) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE, str(REPO), str(items), str(seeds),
                          str(chunk)], capture_output=True, text=True, check=True).stdout
    took, base, peak = map(float, out.split())
    return took, base, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=246_740)
    parser.add_argument("--seeds", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    from recsys.ml.base import chunk_rows

    configs = {"1,024 seeds a block (before)": 1024,
               f"bounded ({chunk_rows(args.items)} seeds a block)": 0}
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(args.runs):
        for name, chunk in configs.items():
            got = run(args.items, args.seeds, chunk)
            if name not in best or got[0] < best[name][0]:
                best[name] = (got[0], got[1], max(got[2], best.get(name, got)[2]))
    print(f"{args.items:,} songs, {args.seeds:,} seeds, best of {args.runs}\n")
    print("| blocks | s per 1,000 seeds | peak RSS (MB) | above the model (MB) |\n"
          "|---|---:|---:|---:|")
    for name, (took, base, peak) in best.items():
        print(f"| {name} | {took / args.seeds * 1000:.1f} | {peak:,.0f} | {peak - base:,.0f} |")


if __name__ == "__main__":
    main()
