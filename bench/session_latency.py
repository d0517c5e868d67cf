"""In-process cost of ``next`` for several seeds, with and without the transition term.

Usage::

    .venv/bin/python bench/session_latency.py [--yes-dir ../shared/data/yes/yes_big] \
        [--var-dir var/bench/session-yes] [--sessions 2000] [--rounds 3]

Builds (once) a database and a promoted yes_big model under ``--var-dir`` with the project's own
commands (``bench/_http_setup.build_yes_setup``), opens the served bundle and times
``ServingModel.candidates("next", seeds, 10)`` (what ``POST /api/recommendations`` calls) on the
same random sessions with the bundle's transition weight and with it set to 0, alternating the
two in every round (best round kept, CPU time of this process). Sessions are contiguous slices
of 1, 5 and 10 songs of the catalog's real playlists.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _http_setup import build_yes_setup  # noqa: E402
from _yesdata import yes_dir  # noqa: E402

from recsys.index.store import ModelStore  # noqa: E402
from recsys.recommend.model import ServingModel  # noqa: E402


def sessions(model: ServingModel, playlists_file: Path, length: int, count: int,
             seed: int = 0) -> list[np.ndarray]:
    """Random contiguous slices of ``length`` songs (as model rows) of the playlists file.

    Song numbers in the file are the songs' external ids in the catalog; songs the model does
    not know (held out, never played) make a slice be drawn again.
    """
    lines = playlists_file.read_text(encoding="ascii").splitlines()[2:]
    external = model.columns["external_id"].take(np.arange(len(model)))
    row_of = {int(e): row for row, e in enumerate(external)}
    known = [[int(t) for t in line.split()] for line in lines if len(line.split()) >= length]
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        p = known[rng.integers(len(known))]
        start = rng.integers(len(p) - length + 1)
        rows = [row_of[s] for s in p[start:start + length] if s in row_of]
        if len(rows) == length:
            out.append(np.asarray(rows, dtype=np.int64))
    return out


def timed(model: ServingModel, queries: list[np.ndarray]) -> float:
    """CPU microseconds per ``candidates("next", seeds, 10)`` call."""
    start = time.process_time()
    for seeds in queries:
        model.candidates("next", seeds, 10, set())
    return (time.process_time() - start) / len(queries) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--yes-dir", type=Path, default=yes_dir() / "yes_big")
    ap.add_argument("--var-dir", type=Path, default=REPO / "var" / "bench" / "session-yes")
    ap.add_argument("--sessions", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    model_dir, _ = build_yes_setup(args.yes_dir, args.var_dir, [])
    store = ModelStore(model_dir)
    model = ServingModel.open(store.path(store.current_version()))
    weight = model.transition_weight
    print(f"model {model.version}: {len(model)} songs, transition weight {weight}")
    print(f"| seeds | µs/call, weight {weight:g} | µs/call, weight 0 | ratio |\n|---|---|---|---|")
    for length in (1, 5, 10):
        queries = sessions(model, args.yes_dir / "train.txt", length, args.sessions)
        best = {weight: float("inf"), 0.0: float("inf")}
        for _ in range(args.rounds):
            for w in best:
                model.transition_weight = w
                best[w] = min(best[w], timed(model, queries))
        model.transition_weight = weight
        print(f"| {length} | {best[weight]:.0f} | {best[0.0]:.0f} | "
              f"{best[weight] / best[0.0]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
