"""Training throughput: streamed batches vs in-memory corpus vs ``corpus_file``.

Usage::

    .venv/bin/python bench/train_speed.py [--subset yes_big] [--epochs 5] [--batch 1000]

Modes (same settings, same run):

* ``gensim_list``: pre-tokenised ``list[list[str]]`` handed to gensim directly
  (the in-memory reference).
* ``in_memory``: ``train(list_of_int_playlists)`` (ids converted on the fly).
* ``streamed``: ``train(batches)`` where ``batches()`` yields lists of playlists
  the way a DB cursor would (the DB engineer swaps in the real generator).
* ``corpus_file``: streamed once to a temp file, then gensim's multi-core
  ``corpus_file`` path (what :func:`recsys.ml.train.train` uses by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yesdata import read_playlists  # noqa: E402

from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1]
                                             / "data" / "train.yaml"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--out", default="var/bench/train_speed.json")
    args = ap.parse_args()

    playlists = read_playlists(args.subset)
    cfg = Path(args.config)
    settings = TrainSettings.from_yaml(cfg) if cfg.exists() else TrainSettings()
    settings = settings.replace(epochs=args.epochs)

    def batches():
        for i in range(0, len(playlists), args.batch):
            yield [list(p) for p in playlists[i:i + args.batch]]  # fresh rows, like a cursor

    results = {}
    from gensim.models import Word2Vec

    tokens = [[str(s) for s in p] for p in playlists if len(p) >= 2]
    n_words = sum(len(p) for p in tokens) * settings.epochs
    t0 = time.perf_counter()
    Word2Vec(tokens, vector_size=settings.vector_size, window=settings.window,
             negative=settings.negative, ns_exponent=settings.ns_exponent,
             sample=settings.sample, epochs=settings.epochs, sg=settings.sg, min_count=1,
             workers=settings.workers, seed=settings.seed)
    results["gensim_list"] = n_words / (time.perf_counter() - t0)
    m = train(playlists, settings.replace(use_corpus_file=False))
    results["in_memory"] = m.stats["words_per_s"]
    m = train(batches, settings.replace(use_corpus_file=False))
    results["streamed"] = m.stats["words_per_s"]
    m = train(batches, settings.replace(use_corpus_file=True))
    results["corpus_file"] = m.stats["words_per_s"]
    results["corpus_file_total_s"] = m.stats["duration_s"]

    ref = results["in_memory"]
    print(f"settings: {settings.to_dict()}")
    print("| mode | words/s | vs in_memory | vs gensim_list |")
    print("|---|---|---|---|")
    for mode in ("gensim_list", "in_memory", "streamed", "corpus_file"):
        wps = results[mode]
        print(f"| {mode} | {wps:,.0f} | {wps / ref:.2f} | {wps / results['gensim_list']:.2f} |")
    print(f"streamed / in_memory = {results['streamed'] / ref:.2f} (goal >= 0.70)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"settings": settings.to_dict(), "words_per_s": results},
                              indent=2))


if __name__ == "__main__":
    main()
