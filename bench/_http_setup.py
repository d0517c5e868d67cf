"""Inputs of ``http_bench.py``: a synthetic large bundle, the book's vectors, wrk and its script.

The synthetic catalog mimics trained embeddings (songs in tight clusters, so nearest
neighbours are meaningful and an approximate index can reach a high recall) and is written
with the project's own :func:`recsys.index.build.build_bundle`, Annoy parameters chosen by the
usual recall measurement (on a reduced grid so a 1M-song build takes minutes).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

log = logging.getLogger("bench.http")

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

LUA = """
local ids = {%(ids)s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid)
end
function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/songs/" .. id .. "/similar?k=%(k)d")
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'JSON {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket_errors": %%d, '
    .. '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def ensure_wrk() -> str:
    """Path of ``wrk``, installing the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    log.info("wrk not found: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, timeout=600)
    return shutil.which("wrk") or "wrk"


def write_lua(path: Path, song_ids: np.ndarray, k: int, n: int = 10_000, seed: int = 0) -> Path:
    """A wrk script requesting ``/similar`` for random ids among ``n`` sampled ones."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(song_ids, size=min(n, len(song_ids)), replace=False)
    path.write_text(LUA % {"ids": ",".join(str(int(i)) for i in sample), "k": k})
    return path


def synthetic_model(n_songs: int, dim: int = 64, seed: int = 0):
    """A fake :class:`TrainedModel`: clustered vectors, Zipf-like counts, ids ``1..n``."""
    from recsys.ml.settings import TrainSettings
    from recsys.ml.train import TrainedModel

    rng = np.random.default_rng(seed)
    n_clusters = max(n_songs // 500, 1)
    cluster = rng.integers(0, n_clusters, n_songs)
    centers = rng.standard_normal((n_clusters, dim), dtype=np.float32)
    in_vec = centers[cluster] + 0.35 * rng.standard_normal((n_songs, dim), dtype=np.float32)
    out_vec = centers[cluster] + 0.5 * rng.standard_normal((n_songs, dim), dtype=np.float32)
    counts = (1 + rng.zipf(1.5, n_songs).clip(max=100_000)).astype(np.int64)
    settings = TrainSettings(vector_size=dim)
    model = TrainedModel(np.arange(1, n_songs + 1, dtype=np.int64), in_vec, out_vec * 0.1,
                         counts, settings, {"synthetic": True})
    order = np.argsort(cluster, kind="stable")  # playlists walk within one cluster
    starts = rng.integers(0, max(n_songs - 10, 1), 20_000)
    playlists = [[int(i) + 1 for i in order[s:s + 10]] for s in starts]
    return model, playlists


def build_synthetic_bundle(model_dir: Path, n_songs: int, n_trees: int = 32,
                           target_recall: float = 0.95) -> str:
    """Write (once) and promote the synthetic bundle ``synthetic-<n>[-r<recall>]``.

    ``target_recall`` is the recall@10 the Annoy tuning must reach, 0.95 like
    ``build_bundle``'s default (the first 1M run used 0.9, kept as ``synthetic-<n>``).
    """
    from recsys.index import build as build_mod
    from recsys.index.store import ModelStore
    from recsys.index.tuning import choose_annoy_params

    store = ModelStore(model_dir)
    version = f"synthetic-{n_songs}"
    if target_recall != 0.9:
        version += f"-r{round(target_recall * 100)}"
    layout = ("song_json.blob.npy", "neighbours_similar_rows.npy")  # current bundle layout
    # store.path raises for a version the store does not hold: ask only about a cached one
    if version in store.versions() and not all((store.path(version) / f).exists()
                                               for f in layout):
        print(f"{version}: cached bundle predates {layout}; rebuilding", flush=True)
        if store.current_version() == version:
            store.current_link.unlink()
        shutil.rmtree(store.path(version))
    if version not in store.versions():
        model, playlists = synthetic_model(n_songs)
        songs = {int(i): {"source": "synthetic", "external_id": str(int(i)),
                          "title": f"Song {int(i)}", "artist": f"Artist {int(i) // 10}"}
                 for i in model.song_ids}
        original = build_mod.choose_annoy_params
        build_mod.choose_annoy_params = functools.partial(
            choose_annoy_params, n_trees_grid=(n_trees,), n_queries=200, n_jobs=-1)
        try:
            build_bundle = build_mod.build_bundle
            build_bundle(store, model, playlists, songs, version=version,
                         target_recall=target_recall,
                         data_snapshot={"synthetic_songs": n_songs})
        finally:
            build_mod.choose_annoy_params = original
    store.set_current(version)
    return version


def build_yes_setup(yes_dir: Path, var_dir: Path, train_sets: list[str]) -> tuple[Path, str]:
    """Database + promoted model of a Yes.com playlist directory under ``var_dir`` (once).

    Runs the project's own commands, as an operator would: ``db upgrade``, ``import yes``,
    ``train --promote`` (settings from data/train.yaml, overridden by ``train_sets``); an
    existing setup is only migrated to the newest schema.
    Returns ``(model_dir, database_url)``.
    """
    import sys

    from recsys.db import migrate
    from recsys.index.store import ModelStore

    var_dir = Path(var_dir).resolve()
    model_dir, db_url = var_dir / "models", f"sqlite:///{var_dir / 'recsys.db'}"
    if ModelStore(model_dir).current_version() is not None:
        migrate.upgrade(db_url)  # a setup built by older code: `serve` wants the newest schema
        return model_dir, db_url
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RECSYS_", "DATABASE_URL"))}
    env.update(RECSYS_VAR_DIR=str(var_dir), DATABASE_URL=db_url)
    source = Path(yes_dir).name
    steps = [["db", "upgrade"], ["import", "yes", str(Path(yes_dir).resolve()), "--source", source],
             ["train", "--promote", *[a for kv in train_sets for a in ("--set", kv)]]]
    for step in steps:
        log.info("yes setup: recsys %s", " ".join(step))
        subprocess.run([sys.executable, "-m", "recsys", *step], check=True, env=env,
                       cwd=Path(__file__).resolve().parents[1])
    return model_dir, db_url


def export_book_vectors(bundle_path: Path, out: Path) -> Path:
    """The bundle's ``similar`` vectors as a gensim KeyedVectors file (keys ``str(id)``)."""
    if out.exists():
        return out
    from gensim.models import KeyedVectors

    ids = np.load(bundle_path / "song_ids.npy")
    vectors = np.load(bundle_path / "in_vectors.npy")
    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors([str(int(i)) for i in ids], vectors)
    out.parent.mkdir(parents=True, exist_ok=True)
    kv.save(str(out))
    return out


def _children(master_pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            found.append(int(stat.parent.name))
    return found


def cpu_seconds(master_pid: int) -> float:
    """User + system CPU seconds used so far by the live workers of ``master_pid``.

    CPU time per request is the steadiest cost measure on a shared machine: other jobs'
    load changes req/s and latency a lot, the CPU a request needs much less.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _children(master_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def process_memory(master_pid: int) -> dict[str, float]:
    """VmRSS and PSS (MiB) of the gunicorn workers (children of ``master_pid``) and master."""
    children = _children(master_pid)

    def kb(path: Path, key: str) -> int:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    rss = [kb(Path(f"/proc/{p}/status"), "VmRSS") for p in children]
    pss = [kb(Path(f"/proc/{p}/smaps_rollup"), "Pss") for p in children]
    mib = 1024.0
    return {
        "workers": len(children),
        "rss_per_worker_mib": round(sum(rss) / max(len(rss), 1) / mib, 1),
        "pss_per_worker_mib": round(sum(pss) / max(len(pss), 1) / mib, 1),
        "rss_workers_total_mib": round(sum(rss) / mib, 1),
        "pss_workers_total_mib": round(sum(pss) / mib, 1),
        "master_rss_mib": round(kb(Path(f"/proc/{master_pid}/status"), "VmRSS") / mib, 1),
    }
