"""Training throughput: DB-streamed corpus vs gensim on the same corpus held in memory.

Usage::

    .venv/bin/python bench/train_speed.py [--subset yes_big] [--epochs 5] \\
        [--work var/bench/train_speed]

The subset is imported once into a SQLite database under ``--work`` (reused on later runs;
one without the subset's playlists, e.g. left by a failed import, is imported again).
Modes, same settings, same run; words/s = playlist tokens x epochs / wall time of
the whole call (vocabulary scan, any corpus streaming, training):

* ``gensim_memory``: gensim ``Word2Vec(sentences=list_of_token_lists)``, corpus in memory
  (the reference).
* ``db_streamed``: :func:`recsys.ml.train.train` over a :class:`PlaylistCorpus` whose batches
  come from the database (``recsys.jobs.data.iter_batches``, keyset pages of 5,000 playlists)
  on every pass -- nothing held in memory.
* ``db_corpus_file``: the production path (``train_and_bundle``): one pass streams the database
  into a temporary file, then gensim's multi-core ``corpus_file`` training.
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

from _yesdata import yes_dir  # noqa: E402
from sqlalchemy import text  # noqa: E402

from recsys.db import migrate  # noqa: E402
from recsys.db.session import make_engine  # noqa: E402
from recsys.jobs import data  # noqa: E402
from recsys.ml.corpus import PlaylistCorpus  # noqa: E402
from recsys.ml.settings import TrainSettings  # noqa: E402
from recsys.ml.train import train  # noqa: E402


def database(subset: str, work: Path):
    """Engine on a SQLite database under ``work`` holding ``subset`` (imported when it has
    none of its playlists)."""
    from recsys.ingest.importers import import_yes

    path = work / f"{subset}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM playlists WHERE source = :s"),
                            {"s": subset}).scalar()
    if not held:
        import_yes(engine, yes_dir() / subset, subset, progress=False)
    return engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--config", default=str(ROOT / "data" / "train.yaml"))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", default="var/bench/train_speed.json")
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "train_speed",
                    help="where the subset's SQLite database is kept")
    args = ap.parse_args()

    settings = TrainSettings.from_yaml(args.config).replace(epochs=args.epochs)
    engine = database(args.subset, args.work)
    playlists = data.load_playlists(engine, part="all")
    tokens = [[str(s) for s in p] for p in playlists if len(p) >= 2]
    n_words = sum(len(p) for p in tokens) * settings.epochs
    del playlists

    from gensim.models import Word2Vec

    results: dict[str, float] = {}
    t0 = time.perf_counter()
    Word2Vec(tokens, vector_size=settings.vector_size, window=settings.window,
             negative=settings.negative, ns_exponent=settings.ns_exponent,
             sample=settings.sample, epochs=settings.epochs, sg=settings.sg,
             min_count=settings.min_count, workers=settings.workers, seed=settings.seed)
    results["gensim_memory"] = n_words / (time.perf_counter() - t0)
    corpus = PlaylistCorpus(lambda: data.iter_batches(engine, part="all"))
    for mode, use_file in (("db_streamed", False), ("db_corpus_file", True)):
        model = train(corpus, settings.replace(use_corpus_file=use_file))
        results[mode] = n_words / model.stats["duration_s"]

    ref = results["gensim_memory"]
    print(f"{args.subset}: {n_words // settings.epochs:,} tokens x {settings.epochs} epochs, "
          f"workers={settings.workers}")
    print("| mode | words/s | vs gensim_memory |")
    print("|---|---|---|")
    for mode, wps in results.items():
        print(f"| {mode} | {wps:,.0f} | {wps / ref:.2f} |")
    print(f"db_streamed / gensim_memory = {results['db_streamed'] / ref:.2f} (goal >= 0.70)")
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"subset": args.subset, "settings": settings.to_dict(),
                               "words_per_s": results}, indent=2))


if __name__ == "__main__":
    main()
