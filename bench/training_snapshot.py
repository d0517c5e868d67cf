"""Training in one database snapshot: peak memory and time against the former several reads.

Usage::

    .venv/bin/python bench/training_snapshot.py [--subset yes_big | --sample N] [--epochs 10]
        [--repeats 2]

The data is imported once into a SQLite database under ``var/bench/training_snapshot/``
(reused later). Each mode runs ``--repeats`` times, alternating, each in a fresh process
(peak RSS = the child's ``ru_maxrss``), with ``data/train.yaml``'s settings:

* ``several_reads``: the training job as it was (commit 364a0eb): gensim streams the corpus
  from the database into its file inside ``train()``, then the train playlists, the holdout,
  the tags and the model's metadata are read, each in transactions of their own.
* ``one_snapshot``: :func:`recsys.jobs.training.train_and_bundle`: one pass over the train
  playlists in a snapshot writes the corpus file and keeps them for the count tables; the
  holdout, tags and metadata come from the same snapshot, closed before gensim trains (so the
  playlists are in memory during training). ``snapshot_s``: how long the snapshot was open.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

MODES = ("several_reads", "one_snapshot")


def database(args: argparse.Namespace) -> str:
    """URL of a SQLite database with the data (imported on first use)."""
    from recsys.db import migrate
    from recsys.db.session import make_engine

    name = f"sample{args.sample}" if args.sample else args.subset
    path = ROOT / "var" / "bench" / "training_snapshot" / f"{name}.db"
    url, fresh = f"sqlite:///{path}", not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(url)
    if fresh:
        engine = make_engine(url)
        if args.sample:
            from recsys.ingest.sample import import_sample

            import_sample(engine, args.sample, seed=1, progress=False)
        else:
            from _yesdata import yes_dir

            from recsys.ingest.importers import import_yes

            import_yes(engine, yes_dir() / args.subset, args.subset, progress=False)
        engine.dispose()
    return url


def several_reads(engine, store, settings, holdout_frac: float = 0.1) -> None:
    """The former job's reads and steps (without its run record)."""
    from recsys.index.build import build_bundle
    from recsys.jobs import data
    from recsys.jobs.evaluation import baseline_metrics, recommender_metrics
    from recsys.ml.corpus import PlaylistCorpus
    from recsys.ml.scoring import next_recommender, similar_recommender
    from recsys.ml.train import train

    opts = {"source": None, "holdout_frac": holdout_frac}
    snap = data.snapshot(engine).as_dict()
    corpus = PlaylistCorpus(lambda: data.iter_batches(engine, part="train", **opts))
    store.versions_dir.mkdir(parents=True, exist_ok=True)
    model = train(corpus, settings, None, tmp_dir=store.versions_dir)
    train_playlists = data.load_playlists(engine, part="train", **opts)
    holdout, _ = data.load_holdout(engine, **opts)
    tags = data.load_tags(engine)
    seeds = data.tag_seeds(model.song_ids.tolist(), tags)
    metrics = recommender_metrics(similar_recommender(model),
                                  next_recommender(model, train_playlists), holdout, tags,
                                  tag_seeds=seeds)
    metrics["baselines"] = baseline_metrics(train_playlists, holdout, metrics["next"]["hr@10"])
    songs = data.song_metadata(engine, model.song_ids.tolist())
    build_bundle(store, model, train_playlists, songs, metrics=metrics,
                 data_snapshot=snap | {"train_playlists": len(train_playlists)},
                 backend="annoy")


def child(mode: str, url: str, epochs: int, out_dir: str) -> dict:
    """One run of ``mode`` in this process; its figures."""
    import tempfile

    from recsys.db.session import make_engine
    from recsys.index.store import ModelStore
    from recsys.jobs import training
    from recsys.ml.settings import TrainSettings

    settings = TrainSettings.from_yaml(str(ROOT / "data" / "train.yaml"),
                                       overrides=[f"epochs={epochs}"])
    engine = make_engine(url)
    store = ModelStore(Path(tempfile.mkdtemp(dir=out_dir)))
    held: list[float] = []
    real = training.read_snapshot

    @contextlib.contextmanager
    def timed(bind):
        t0 = time.perf_counter()
        with real(bind) as conn:
            yield conn
        held.append(time.perf_counter() - t0)

    training.read_snapshot = timed
    t0 = time.perf_counter()
    if mode == "several_reads":
        several_reads(engine, store, settings)
    else:
        training.train_and_bundle(engine, store, settings, holdout_frac=0.1)
    wall = time.perf_counter() - t0
    return {"mode": mode, "wall_s": round(wall, 1),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "snapshot_s": round(sum(held), 2) if held else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--sample", type=int, default=0, help="synthetic playlists instead")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--child", nargs=3, metavar=("MODE", "URL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        mode, url, out = args.child
        print(json.dumps(child(mode, url, args.epochs, out)))
        return
    import logging
    import tempfile

    logging.disable(logging.INFO)
    url = database(args)
    rows = []
    with tempfile.TemporaryDirectory(dir=ROOT / "var" / "bench" / "training_snapshot") as out:
        for rep in range(args.repeats):
            for mode in MODES if rep % 2 == 0 else MODES[::-1]:
                done = subprocess.run(
                    [sys.executable, __file__, "--epochs", str(args.epochs), "--child", mode,
                     url, out], check=True, capture_output=True, text=True)
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(rows[-1]), flush=True)
    best = {m: min((r for r in rows if r["mode"] == m), key=lambda r: r["wall_s"]) for m in MODES}
    peak = {m: max(r["peak_rss_mib"] for r in rows if r["mode"] == m) for m in MODES}
    old, new = MODES
    print(f"data {'sample ' + str(args.sample) if args.sample else args.subset}, "
          f"epochs {args.epochs}, {args.repeats} run(s) per mode")
    print(f"{'mode':<14} {'best wall s':>11} {'max peak RSS MiB':>17} {'snapshot s':>10}")
    for m in MODES:
        print(f"{m:<14} {best[m]['wall_s']:>11} {peak[m]:>17} {best[m]['snapshot_s']!s:>10}")
    print(f"one_snapshot / several_reads: wall {best[new]['wall_s'] / best[old]['wall_s']:.3f}, "
          f"peak RSS {peak[new] / peak[old]:.3f}")


if __name__ == "__main__":
    main()
