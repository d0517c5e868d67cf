"""Research: variants of the ``next`` score on one yes_big validation split.

Usage::

    .venv/bin/python bench/next_variants.py [--seed 0] [--epochs 10]

Scores every validation transition (train = 70%, validation = 10% of playlists, the split of
``recsys.ml.evaluate.split_train_val_test``) with dense score matrices: counting variants
(binary and repeated co-occurrence, popularity re-weighting, playlist-length weighting,
RP3beta, directed distance-weighted counts), word2vec ``in.out`` with the default settings, and
blends (log-linear, Dirichlet smoothing of counts towards the word2vec distribution).
Prints HR@10 / MRR@10 per variant; findings are summarised in docs/ml.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402

from recsys.ml.base import MatrixRecommender  # noqa: E402
from recsys.ml.baselines import item_index, pair_matrix, popularity_counts  # noqa: E402
from recsys.ml.evaluate import next_song_metrics, split_train_val_test  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402


class Dense(MatrixRecommender):
    """A recommender over a precomputed dense score matrix."""

    def __init__(self, ids: np.ndarray, scores: np.ndarray) -> None:
        super().__init__(ids)
        self.scores = scores

    def score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.scores[rows]


def incidence(playlists, row, n, binary=True, weight=None) -> sp.csr_matrix:
    """Playlist x song matrix (binary presence, or counts with repeats)."""
    rs, cs, ws = [], [], []
    for pid, p in enumerate(playlists):
        songs = list(dict.fromkeys(row[s] for s in p)) if binary else [row[s] for s in p]
        w = 1.0 if weight is None else weight(len(set(songs)))
        rs += [pid] * len(songs)
        cs += songs
        ws += [w] * len(songs)
    mat = sp.csr_matrix((ws, (rs, cs)), shape=(len(playlists), n))
    mat.sum_duplicates()
    return mat


def forward_counts(playlists, row, n, tau: float, max_d: int = 60) -> np.ndarray:
    """sum over pairs (s at i, c at i+d) of exp(-(d-1)/tau)."""
    rs, cs, ws = [], [], []
    for p in playlists:
        r = [row[s] for s in p]
        for i in range(len(r)):
            for d in range(1, min(max_d, len(r) - i - 1) + 1):
                rs.append(r[i])
                cs.append(r[i + d])
                ws.append(np.exp(-(d - 1) / tau))
    out = sp.csr_matrix((ws, (rs, cs)), shape=(n, n)).toarray().astype(np.float32)
    np.fill_diagonal(out, 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=10)
    args = ap.parse_args()
    train_pl, val_pl, _ = split_train_val_test(read_playlists("yes_big"), 0.1, 0.2, args.seed)
    ids = item_index(train_pl)
    row = {int(s): i for i, s in enumerate(ids)}
    n = len(ids)
    pop = popularity_counts(train_pl, row, n)
    lpop = np.log(np.maximum(pop, 1)).astype(np.float32)
    tie = (1e-6 * pop / pop.max()).astype(np.float32)

    def report(name: str, scores: np.ndarray) -> None:
        res = next_song_metrics(Dense(ids, scores), val_pl, 10)
        print(f"| {name} | {res['hr@10']:.4f} | {res['mrr@10']:.4f} |", flush=True)

    xb = incidence(train_pl, row, n)
    cooc = (xb.T @ xb).toarray().astype(np.float32)
    np.fill_diagonal(cooc, 0)
    lc = np.log1p(cooc)
    print("| variant | HR@10 | MRR@10 |\n|---|---|---|")
    report("co-occurrence (playlists with both)", cooc + tie)
    xc = incidence(train_pl, row, n, binary=False)
    rep = (xc.T @ xc).toarray().astype(np.float32)
    np.fill_diagonal(rep, 0)
    report("co-occurrence with repeats", rep + tie)
    for a in (-0.25, 0.25, 0.5):
        report(f"co-occurrence x pop^{-a}", cooc * np.maximum(pop, 1) ** -a + tie)
    xw = incidence(train_pl, row, n, weight=lambda size: 1.0 / max(size - 1, 1) ** 0.5)
    weighted = (xw.T @ xb).toarray()
    np.fill_diagonal(weighted, 0)
    report("co-occurrence, playlists weighted 1/sqrt(len-1)", weighted + tie)
    p_ui = xb.multiply(1 / np.maximum(xb.sum(1), 1)).tocsr()
    p_iu = xb.T.multiply(1 / np.maximum(xb.T.sum(1), 1)).tocsr()
    rp3 = (p_iu @ p_ui).toarray()
    np.fill_diagonal(rp3, 0)
    for beta in (0.0, 0.5):
        report(f"RP3beta beta={beta}", rp3 / np.maximum(pop, 1) ** beta + tie)
    trans = pair_matrix(train_pl, row, n, window=1).toarray()
    report("transitions", trans + tie)
    report("log1p cooc + 0.5 log1p transitions", lc + 0.5 * np.log1p(trans) + tie)
    fwd = forward_counts(train_pl, row, n, tau=10)
    report("log1p cooc + log1p fwd(tau 10) + 0.5 log1p bwd", lc + np.log1p(fwd)
           + 0.5 * np.log1p(fwd.T) + tie)
    del rp3, weighted, rep, fwd

    settings = TrainSettings.from_yaml(ROOT / "data" / "train.yaml").replace(epochs=args.epochs)
    model = train(train_pl, settings)
    pos = np.searchsorted(ids, model.song_ids)
    vin = np.zeros((n, model.in_vectors.shape[1]), np.float32)
    vout = np.zeros_like(vin)
    vin[pos], vout[pos] = model.in_vectors, model.out_vectors
    dot = vin @ vout.T
    report("w2v in.out", dot + tie)
    report("w2v out.in (reversed)", dot.T + tie)
    for w_pop, w_c in ((0.5, 0.0), (0.5, 2.0), (1.0, 4.0)):
        report(f"in.out + {w_pop} log pop + {w_c} log1p cooc", dot + w_pop * lpop + w_c * lc)
    logits = dot + 0.5 * lpop
    q = np.exp(logits - logits.max(1, keepdims=True))
    np.fill_diagonal(q, 0)
    q /= q.sum(1, keepdims=True)
    for frac in (0.3, 1.0):
        report(f"Dirichlet: cooc + {frac} N_s softmax(in.out + 0.5 log pop)",
               cooc + frac * cooc.sum(1, keepdims=True) * q + tie)


if __name__ == "__main__":
    main()
