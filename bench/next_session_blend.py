"""Research: how to combine several seeds in the ``next`` blend (validation split of yes_big).

Usage::

    .venv/bin/python bench/next_session_blend.py [--seed 0] [--transitions]

Split 70/10/20 (:func:`recsys.ml.evaluate.split_train_val_test`), counts and word2vec
(``data/train.yaml``) fitted on train, everything scored on validation, HR@10:

* ``single``: every transition ``s_i -> s_{i+1}`` from ``s_i`` alone;
* ``continuation L``: the last ``L`` songs before a playlist's last song -> the last song;
* ``session 10``: every third transition from the last 10 songs played.

The context songs are excluded from the candidates; unknown targets are misses.  Methods:
summed log1p co-occurrence; ``sum`` = the per-seed blends summed whole (the formula served until
session 3: ``|S|`` embedding and popularity terms); ``mean`` = ``mean_s(in[s]).out + a log count
+ b sum_s log1p cooc`` (the formula served now), for popularity weights ``a`` and co-occurrence
weights ``b``.  ``--transitions`` scores the served formula with ``a=0.5, b=4`` and transition
weights ``t`` instead (``+ t sum_s log1p transitions``), and two blends with co-occurrence
counted with repeats (``a=1, b=4, t=4`` and ``a=0.5, b=4, t=3``).  Findings are summarised
in docs/ml.md ("Third round", "Fourth round").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402
from next_local import counts, dense_vectors  # noqa: E402

from recsys.ml.baselines import cooccurrence_matrix  # noqa: E402
from recsys.ml.evaluate import split_train_val_test  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402


def tasks(playlists: list[list[int]]) -> dict[str, tuple[int, list]]:
    """Task name -> (context length, [(context, target)])."""
    steps = [(p[:i], p[i]) for p in playlists for i in range(1, len(p))]
    last = [(p[:-1], p[-1]) for p in playlists if len(p) > 1]
    return {"single": (1, steps), "continuation 10": (10, last),
            "continuation 50": (50, last), "session 10": (10, steps[::3])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--transitions", action="store_true")
    args = ap.parse_args()
    playlists = read_playlists("yes_big")
    n = max(max(p) for p in playlists) + 1
    train_pl, val_pl, _ = split_train_val_test(playlists, 0.1, 0.2, args.seed)
    cooc, trans, pop = counts(train_pl, n)
    lc, lt, lpop, known = np.log1p(cooc), np.log1p(trans), np.log(np.maximum(pop, 1)), pop > 0
    base = TrainSettings.from_yaml(ROOT / "data" / "train.yaml").replace(seed=args.seed)
    vin, vout = dense_vectors(train(train_pl, base), n, directed=False)

    def blend(a: float, b: float, mean: bool, t: float = 0.0, cooc: np.ndarray = lc):
        def score(ctx: np.ndarray) -> np.ndarray:
            if mean:
                return (vin[ctx].mean(axis=0) @ vout.T + a * lpop + b * cooc[ctx].sum(axis=0)
                        + (t * lt[ctx].sum(axis=0) if t else 0.0))
            return (vin[ctx].sum(axis=0) @ vout.T + len(ctx) * a * lpop
                    + b * lc[ctx].sum(axis=0))
        return score

    methods = {"summed log1p co-occurrence": lambda ctx: lc[ctx].sum(axis=0) + 1e-6 * pop,
               "sum, a=0.5, b=2 (served until session 3)": blend(0.5, 2.0, mean=False)}
    if args.transitions:
        methods = {"summed log1p co-occurrence": methods["summed log1p co-occurrence"]}
        methods |= {f"mean, a=0.5, b=4, t={t:g}": blend(0.5, 4.0, mean=True, t=t)
                    for t in (0.0, 1.0, 2.0, 3.0)}
        ident = {s: s for s in range(n)}
        lr = np.log1p(cooccurrence_matrix(train_pl, ident, n, repeats=True).toarray())
        methods["mean, a=1, repeats b=4, t=4"] = blend(1.0, 4.0, mean=True, t=4.0, cooc=lr)
        methods["mean, a=0.5, repeats b=4, t=3"] = blend(0.5, 4.0, mean=True, t=3.0, cooc=lr)
    else:
        methods |= {f"mean, a={a}, b={b:g}": blend(a, b, mean=True)
                    for a in (0.5, 1.0) for b in (2.0, 3.0, 4.0, 6.0)}
    todo = tasks(val_pl)
    print("| method | " + " | ".join(todo) + " |\n|---|" + "---|" * len(todo))
    for name, score in methods.items():
        cells = []
        for length, queries in todo.values():
            hits = 0
            for ctx, target in queries:
                rows = np.array([s for s in ctx[-length:] if known[s]], dtype=np.int64)
                if len(rows) == 0 or not known[target]:
                    continue
                s = score(rows)
                s[rows] = -np.inf
                hits += target in np.argpartition(-s, 10)[:10]
            cells.append(f"{hits / len(queries):.4f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
