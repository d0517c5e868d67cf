"""The training job's and the gate's holdout scoring at scale, before and after, in one run.

Usage::

    .venv/bin/python bench/eval_scale.py [--songs 300000] [--playlists 1000000]
        [--work var/helper-lists] [--bundle PATH] [--before-rev REV] [--parts trained,bundle]

On ``bench/list_build.py``'s synthetic catalog and model (cached in ``--work``), its tags
(``bench/scale_catalog.py``'s ``genre|mood`` and long-tail tags) and ``bench/build_time.py``'s
holdout (at most 20,000 transitions): each stage of ``recommender_metrics`` (the ``next``
count tables, next-song ranks, continuation, the ``similar`` next-song ranks, tag coherence of
the training job's 10,000 tag seeds) with ``recsys/ml/evaluate.py``, ``scoring.py`` and
``recsys/jobs/evaluation.py`` of ``--before-rev`` (read with ``git show``) and with the
current ones, for the trained model (training job) and for a written bundle (the gate scores
two). Every query whose rank differs is checked one by one: the target's score must equal
another song's, and both ranks must lie within that group of equal scores.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from build_time import holdout_split  # noqa: E402
from list_build import model_and_playlists  # noqa: E402
from scale_catalog import Catalog  # noqa: E402

from recsys.index import build as build_mod  # noqa: E402
from recsys.index.store import ModelStore  # noqa: E402
from recsys.jobs import data  # noqa: E402
from recsys.jobs import evaluation as new_evaluation  # noqa: E402
from recsys.ml import evaluate as new_evaluate  # noqa: E402
from recsys.ml import scoring as new_scoring  # noqa: E402
from recsys.ml.base import chunk_rows  # noqa: E402
from recsys.recommend.model import ServingModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BEFORE_REV = "221ca90"  # the commit before the bounded top k
K = 10


def former(rev: str) -> dict:
    """``evaluate``, ``scoring`` and ``evaluation`` of ``rev`` as modules, the last importing
    the first (not the current one)."""
    modules = {}
    for name, path in (("evaluate", "recsys/ml/evaluate.py"), ("scoring", "recsys/ml/scoring.py"),
                       ("evaluation", "recsys/jobs/evaluation.py")):
        source = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=REPO, check=True,
                                capture_output=True, text=True).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as fh:
            fh.write(source)
        spec = importlib.util.spec_from_file_location(f"former_{name}", fh.name)
        module = importlib.util.module_from_spec(spec)
        current = sys.modules["recsys.ml.evaluate"]
        sys.modules["recsys.ml.evaluate"] = modules.get("evaluate", current)
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules["recsys.ml.evaluate"] = current
            Path(fh.name).unlink()
        modules[name] = module
    return modules


def old_continuation(rec, playlists, k: int = K, max_seeds: int = 50) -> np.ndarray:
    """The former ``continuation_metrics`` loop, keeping each rank."""
    ranks = []
    for playlist in playlists:
        if len(playlist) < 2:
            continue
        seeds, target = list(playlist[:-1])[-max_seeds:], int(playlist[-1])
        recs = [s for s, _ in rec.recommend(seeds, k)]
        ranks.append(recs.index(target) + 1 if target in recs else 0)
    return np.asarray(ranks, dtype=np.int64)


def stages(ev, similar, nxt, holdout, tags, tag_seeds, continuation) -> tuple[dict, dict]:
    """Seconds and results of each stage of ``recommender_metrics`` for one code version."""
    seconds, out = {}, {}
    for name, run in (("next-song ranks", lambda: ev.next_song_ranks(nxt, holdout, K)),
                      ("continuation", lambda: continuation(nxt, holdout, K)),
                      ("similar next-song ranks", lambda: ev.next_song_ranks(similar, holdout,
                                                                              K)),
                      ("tag coherence", lambda: ev.tag_coherence_per_seed(similar, tags, K,
                                                                          tag_seeds))):
        started = time.perf_counter()
        out[name] = run()
        seconds[name] = time.perf_counter() - started
    return seconds, out


def tie_check(row: np.ndarray, target: int | None, ranks: tuple[int, int]) -> bool:
    """Whether both ranks of ``target`` are possible given equal scores in ``row``."""
    if target is None:
        return False
    above, equal = int((row > row[target]).sum()), int((row == row[target]).sum())
    return equal > 1 and all((r == 0 and above + equal > K) or above < r <= above + equal
                             for r in ranks)


def block_row(rec, scored: np.ndarray, row: int) -> np.ndarray:
    """``row``'s scores as ``topk_rows(scored)`` computed them: within its block of seeds
    (a matrix product of a block rounds a little differently from one seed's)."""
    at = int(np.flatnonzero(scored == row)[0])
    start = at - at % chunk_rows(rec.n_items)
    block = rec.score_rows(scored[start:start + chunk_rows(rec.n_items)])
    out = np.asarray(block[at - start], dtype=np.float64)
    out[row] = -np.inf
    return out


def compare(label: str, new_rec, before: dict, after: dict, holdout, tags, tag_seeds) -> None:
    """Differences between the two versions' results, each checked against the scores."""
    src, dst = new_evaluate.transitions_of(holdout)
    cont = [p for p in holdout if len(p) >= 2]
    nxt, similar = new_rec
    for name, rec in (("next-song ranks", nxt), ("similar next-song ranks", similar),
                      ("continuation", nxt)):
        old_r = before[name][0] if name != "continuation" else before[name]
        new_r = after[name][0] if name != "continuation" else after[name]
        differ = np.flatnonzero(old_r != new_r)
        ties = 0
        for j in differ.tolist():
            if name == "continuation":
                seeds = list(cont[j][:-1])[-50:]
                rows = rec.rows_of(dict.fromkeys(int(s) for s in seeds))
                row = rec.score_seeds(rows).astype(np.float64)
                row[rows] = -np.inf
                target = rec.row_of(cont[j][-1])
            else:
                rows = new_evaluate._lookup(rec, src)  # as next_song_ranks scores them
                row = block_row(rec, np.unique(rows[rows >= 0]), rec.row_of(src[j]))
                target = rec.row_of(dst[j])
            ties += tie_check(row, target, (int(old_r[j]), int(new_r[j])))
        hr = [float((r > 0).mean()) for r in (old_r, new_r)]
        print(f"| {label} | {name} | {len(old_r):,} | {len(differ)} | {ties} of {len(differ)} "
              f"| {hr[0]:.6f} / {hr[1]:.6f} |")
    (s0, v0), (s1, v1) = before["tag coherence"], after["tag coherence"]
    assert (s0 == s1).all()
    differ = np.flatnonzero(np.abs(v0 - v1) > 1e-12)
    ties = 0
    scored = np.array([i for i, s in enumerate(similar.item_ids)
                       if tags.get(int(s)) and int(s) in tag_seeds])
    for j in differ.tolist():  # a different set of results: equal scores at the k-th place
        top = np.sort(block_row(similar, scored, similar.row_of(s1[j])))[::-1]
        ties += bool(top[K - 1] == top[K])
    print(f"| {label} | tag coherence (differs > 1e-12) | {len(v0):,} | {len(differ)} | {ties} "
          f"of {len(differ)} | {v0.mean():.6f} / {v1.mean():.6f} |")


def a_bundle(work: Path, model, train) -> Path:
    """The newest bundle in ``work``'s store, or one written now (exact indexes, no lists)."""
    store = ModelStore(work / "store")
    found = sorted(store.versions_dir.glob("*"), key=lambda p: p.stat().st_mtime)
    if found:
        return found[-1]
    version = f"evalscale-{len(model)}-{int(time.time())}"
    old = build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS
    build_mod.NEIGHBOURS_MAX_SONGS = build_mod.APPROX_LISTS_MAX_SONGS = 0
    songs = {int(i): {"source": "bench", "external_id": str(i), "title": str(i),
                      "artist": str(i)} for i in model.song_ids}
    try:
        build_mod.build_bundle(store, model, train, songs, version=version, backend="exact")
    finally:
        build_mod.NEIGHBOURS_MAX_SONGS, build_mod.APPROX_LISTS_MAX_SONGS = old
    return store.path(version)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--songs", type=int, default=300_000)
    parser.add_argument("--playlists", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("var/helper-lists"))
    parser.add_argument("--bundle", type=Path, default=None)
    parser.add_argument("--before-rev", default=BEFORE_REV)
    parser.add_argument("--parts", default="trained,bundle")
    args = parser.parse_args()
    model, playlists = model_and_playlists(args.work, args.songs, args.playlists)
    train, holdout = holdout_split(playlists)
    catalog = Catalog(args.songs, 40, np.random.default_rng(0))  # list_build's first draw
    names: dict[str, int] = {}
    tags = {int(s): frozenset(names.setdefault(t, len(names))
                              for t in catalog.tags[int(s)].split("|")) for s in model.song_ids}
    tag_seeds = data.tag_seeds(model.song_ids.tolist(), tags)
    old = former(args.before_rev)
    print(f"{time.strftime('%Y-%m-%d %H:%M')}: {len(model):,} songs, {len(holdout):,} held-out "
          f"playlists, {len(tag_seeds):,} tag seeds; before = {args.before_rev}\n")
    timing, checks = [], []
    parts = args.parts.split(",")
    for part in parts:
        versions = {}
        for label, ev, sc, evn, cont in (
                ("before", old["evaluate"], old["scoring"], old["evaluation"], old_continuation),
                ("after", new_evaluate, new_scoring, new_evaluation,
                 new_evaluate.continuation_ranks)):
            started = time.perf_counter()
            if part == "trained":
                recs = sc.similar_recommender(model), sc.next_recommender(model, train)
            else:
                served = ServingModel.open(args.bundle or a_bundle(args.work, model, train),
                                           verify=False)
                recs = evn.BundleSimilar(served), evn.BundleNext(served)
            made = time.perf_counter() - started
            seconds, out = stages(ev, *recs, holdout, tags, tag_seeds, cont)
            versions[label] = ({"scorers (count tables)": made} | seconds, out, recs)
        (t0, r0, _), (t1, r1, recs1) = versions["before"], versions["after"]
        for name in t0:
            timing.append(f"| {part} | {name} | {t0[name]:.1f} | {t1[name]:.1f} | "
                          f"{t0[name] / max(t1[name], 1e-9):.1f}× |")
        total0, total1 = sum(t0.values()), sum(t1.values())
        timing.append(f"| {part} | **all** | **{total0:.1f}** | **{total1:.1f}** | "
                      f"**{total0 / total1:.1f}×** |")
        checks.append((part, recs1, r0, r1))
        print("\n".join(timing[-6:]), flush=True)
    print("\n| model | stage | before s | after s | ratio |\n|---|---|---:|---:|---:|")
    print("\n".join(timing))
    print("\n| model | queries | n | differ | explained by equal scores | HR@10 before / after |"
          "\n|---|---|---:|---:|---:|---|")
    for part, recs1, r0, r1 in checks:
        compare(part, (recs1[1], recs1[0]), r0, r1, holdout, tags, tag_seeds)


if __name__ == "__main__":
    main()
