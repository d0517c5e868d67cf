"""ANN benchmark: exact numpy vs Annoy (vs hnswlib if installed), side by side in one run.

Synthetic seeded Gaussian mixture (default 1,000,000 x 64 float32). For every metric and
backend: build time, file size, load time, resident memory of the loaded index, single-query
latency/QPS over the evaluation queries and recall@10 against exact search. ANN parameters
are tuned on separate queries to the cheapest setting reaching the target recall. Load and
query measurements run in a fresh subprocess per backend, so memory numbers are clean.

Usage::

    .venv/bin/python bench/ann_bench.py                    # full run, cosine and dot
    .venv/bin/python bench/ann_bench.py --n 100000 --metrics cosine   # quick run

Writes ``var/bench/ann/results.json`` and ``var/bench/ann/results.md``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from recsys.index import available_backends, get_backend, load_index  # noqa: E402
from recsys.index.exact import ExactIndex  # noqa: E402
from recsys.index.tuning import evaluate  # noqa: E402

log = logging.getLogger("ann_bench")
K = 10


def mixture(n: int, dim: int, clusters: int, spread: float, seed: int, latent: int = 16,
            noise: float = 0.1) -> np.ndarray:
    """Seeded embedding-like data, float32: a Gaussian mixture in ``latent`` dimensions
    mapped linearly to ``dim`` plus isotropic noise, with varied norms (matters for dot).

    ``latent == dim`` and ``noise == 0`` give a plain full-rank mixture (much harder for
    tree/graph indexes than real embeddings, whose intrinsic dimension is low).
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, latent), dtype=np.float32)
    basis = rng.standard_normal((latent, dim), dtype=np.float32) / np.sqrt(latent)
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        z = centres[rng.integers(0, clusters, m)]
        z += spread * rng.standard_normal((m, latent), dtype=np.float32)
        block = z @ basis + noise * rng.standard_normal((m, dim), dtype=np.float32)
        block *= rng.uniform(0.5, 1.5, (m, 1)).astype(np.float32)
        out[start : start + m] = block
    return out


def status_kb() -> dict[str, int]:
    """VmRSS / RssAnon / RssFile of this process in kB (Linux)."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields


def blas_info() -> dict[str, object]:
    """BLAS library, configuration and thread count as numpy sees it."""
    info: dict[str, object] = {"env": {k: v for k, v in os.environ.items()
                                       if "BLAS" in k or k.startswith(("OMP_", "MKL_"))}}
    try:
        import threadpoolctl

        info["threadpoolctl"] = threadpoolctl.threadpool_info()
        return info
    except ImportError:
        pass
    cfg = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    info.update(name=cfg.get("name"), version=cfg.get("version"),
                config=cfg.get("openblas configuration"))
    libs = {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
            if "openblas" in line.lower()}
    for lib in libs:
        dll = ctypes.CDLL(lib)
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                fn = getattr(dll, f"{prefix}_get_num_threads{suffix}", None)
                core = getattr(dll, f"{prefix}_get_corename{suffix}", None)
                if fn is not None:
                    info["threads"] = fn()
                if core is not None:
                    core.restype = ctypes.c_char_p
                    info["core"] = core().decode()
    return info


def worker(backend: str, prefix: str, queries_path: str, out_path: str, batch: bool) -> None:
    """Fresh process: load the index, query it one query at a time, report."""
    queries = np.load(queries_path)
    before = status_kb()
    start = time.perf_counter()
    index = load_index(prefix, backend=backend)
    load_s = time.perf_counter() - start
    after_load = status_kb()
    index.query(queries[0], K)  # first query: maps/faults the pages it needs
    latencies = np.empty(len(queries))
    found = np.empty((len(queries), K), np.int64)
    for i, query in enumerate(queries):
        t0 = time.perf_counter()
        found[i] = index.query(query, K)[0]
        latencies[i] = time.perf_counter() - t0
    result = {
        "load_s": load_s,
        "rss_before_kb": before,
        "rss_after_load_kb": after_load,
        "rss_after_queries_kb": status_kb(),
        "latency_ms_mean": latencies.mean() * 1e3,
        "latency_ms_p50": float(np.percentile(latencies, 50) * 1e3),
        "latency_ms_p99": float(np.percentile(latencies, 99) * 1e3),
        "qps": len(queries) / latencies.sum(),
    }
    if batch:
        start = time.perf_counter()
        index.query_batch(queries, K, chunk=100)
        result["batch_qps"] = len(queries) / (time.perf_counter() - start)
        result["blas"] = blas_info()
    np.save(out_path + ".npy", found)
    Path(out_path + ".json").write_text(json.dumps(result, default=str))


def measure(backend: str, prefix: Path, queries_path: Path, batch: bool = False,
            env: dict[str, str] | None = None) -> dict:
    """Run ``worker`` in a subprocess; return its report and the positions it found."""
    out = prefix.parent / f"{prefix.name}.worker"
    cmd = [sys.executable, __file__, "--worker", backend, str(prefix), str(queries_path),
           str(out)] + (["--batch"] if batch else [])
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
    report = json.loads(Path(f"{out}.json").read_text())
    report["found"] = np.load(f"{out}.npy")
    return report


def tune(index, name: str, values: list[int], queries, truth, target: float) -> dict:
    """Smallest ``params[name]`` in ``values`` reaching ``target`` recall (bisection step)."""
    sweep, previous, chosen = [], None, None
    for value in values:
        index.params[name] = value
        recall, seconds = evaluate(index, queries, truth)
        sweep.append({name: value, "recall": round(recall, 4), "ms": round(seconds * 1e3, 3)})
        log.info("%s %s=%d recall=%.4f %.3f ms", index.backend, name, value, recall, seconds * 1e3)
        if recall >= target:
            chosen = value
            if previous is not None:
                index.params[name] = middle = (previous + value) // 2
                recall_mid, seconds = evaluate(index, queries, truth)
                sweep.append({name: middle, "recall": round(recall_mid, 4),
                              "ms": round(seconds * 1e3, 3)})
                chosen = middle if recall_mid >= target else value
            break
        previous = value
    index.params[name] = chosen if chosen is not None else values[-1]
    return {"chosen": index.params[name], "reached": chosen is not None, "sweep": sweep}


def run_metric(args, metric: str, data: np.ndarray, all_queries: np.ndarray, out: Path) -> dict:
    """Build, tune and measure every backend for one metric."""
    queries, tune_q = all_queries[: args.queries], all_queries[args.queries :]
    queries_path = out / f"queries-{metric}.npy"
    np.save(queries_path, queries)
    rows: dict[str, dict] = {}

    start = time.perf_counter()
    exact = ExactIndex.build(data, metric)
    build_s = time.perf_counter() - start
    truth = exact.query_batch(queries, K)[0]
    tune_truth = exact.query_batch(tune_q, K)[0]
    prefix = out / f"exact-{metric}"
    files = exact.save(prefix)
    del exact
    rows["exact"] = {"build_s": build_s, "params": {}, "files": files}

    backend_params = {"annoy": {"n_trees": args.n_trees, "seed": args.seed},
                      "hnsw": {"M": args.hnsw_m, "ef_construction": args.hnsw_efc}}
    for backend in [b for b in args.backends if b != "exact"]:
        start = time.perf_counter()
        index = get_backend(backend).build(data, metric, **backend_params[backend])
        build_s = time.perf_counter() - start
        if backend == "annoy":
            values = [K * args.n_trees * m for m in (1, 2, 4, 8, 16, 32, 64, 128, 256)]
            tuning = tune(index, "search_k", values, tune_q, tune_truth, args.target)
        else:
            tuning = tune(index, "ef", [10, 20, 40, 80, 160, 320, 640, 1280], tune_q, tune_truth,
                          args.target)
        files = index.save(out / f"{backend}-{metric}")
        rows[backend] = {"build_s": build_s, "params": dict(index.params), "tuning": tuning,
                         "files": files}
        del index

    rows["exact, 1 BLAS thread"] = dict(rows["exact"], env={"OPENBLAS_NUM_THREADS": "1"})
    for name, row in rows.items():
        backend = name.split(",")[0]
        report = measure(backend, out / f"{backend}-{metric}", queries_path, backend == "exact",
                         env=row.pop("env", None))
        found = report.pop("found")
        hits = sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True))
        row.update(report, recall=hits / truth.size,
                   file_mb=sum(Path(f).stat().st_size for f in row.pop("files")) / 2**20)
        log.info("%s %s: %s", metric, name, {k: v for k, v in row.items() if k != "tuning"})
    return rows


def markdown(results: dict, args) -> str:
    """Results table as markdown."""
    lines = []
    for metric, rows in results["metrics"].items():
        # speed-up against the faster exact variant (BLAS threads hurt on a busy 2-core box)
        exact_ms = min(row["latency_ms_mean"] for name, row in rows.items()
                       if name.startswith("exact"))
        lines += [f"\n#### metric = {metric}\n",
                  "| backend | params | recall@10 | mean ms | p99 ms | QPS (1 query) | speed-up "
                  "| build s | file MB | load ms | RSS after load MB | RSS after queries MB |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, row in rows.items():
            params = {k: v for k, v in row["params"].items() if k in
                      ("n_trees", "search_k", "M", "ef_construction", "ef")}
            rss = [(row[key]["VmRSS"] - row["rss_before_kb"]["VmRSS"]) / 1024
                   for key in ("rss_after_load_kb", "rss_after_queries_kb")]
            lines.append(
                f"| {name} | {json.dumps(params) if params else '-'} | {row['recall']:.3f} "
                f"| {row['latency_ms_mean']:.3f} | {row['latency_ms_p99']:.3f} "
                f"| {row['qps']:.0f} | {exact_ms / row['latency_ms_mean']:.1f}x "
                f"| {row['build_s']:.1f} | {row['file_mb']:.0f} | {row['load_s'] * 1e3:.1f} "
                f"| {rss[0]:.0f} | {rss[1]:.0f} |")
        for name in ("exact", "exact, 1 BLAS thread"):
            lines.append(f"| {name}, batches of 100 | - | 1.000 | - | - | "
                         f"{rows[name]['batch_qps']:.0f} | - | - | - | - | - | - |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=0.35)
    parser.add_argument("--latent", type=int, default=16)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--tune-queries", type=int, default=200)
    parser.add_argument("--metrics", nargs="+", default=["cosine", "dot"])
    parser.add_argument("--backends", nargs="+", default=available_backends())
    parser.add_argument("--n-trees", type=int, default=16)
    parser.add_argument("--hnsw-m", type=int, default=16)
    parser.add_argument("--hnsw-efc", type=int, default=100)
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("var/bench/ann"))
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--markdown-only", action="store_true",
                        help="re-render results.md from an existing results.json")
    args = parser.parse_args()
    if args.markdown_only:
        results = json.loads((args.out / "results.json").read_text())
        (args.out / "results.md").write_text(markdown(results, args))
        print(markdown(results, args))
        return
    if args.worker:
        worker(*args.worker, batch=args.batch)
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    # queries are held-out draws from the same distribution as the items
    data = mixture(args.n + args.queries + args.tune_queries, args.dim, args.clusters,
                   args.spread, seed=args.seed, latent=args.latent, noise=args.noise)
    data, queries = data[: args.n], data[args.n :]
    results = {"args": {k: str(v) for k, v in vars(args).items()}, "metrics": {}}
    for metric in args.metrics:  # results are rewritten after each metric
        results["metrics"][metric] = run_metric(args, metric, data, queries, args.out)
        results["total_s"] = time.perf_counter() - start
        results["blas"] = results["metrics"][args.metrics[0]]["exact"].get("blas")
        (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        (args.out / "results.md").write_text(markdown(results, args))
    print(markdown(results, args))
    print("speed-up column: against the fastest exact single-query row")
    print(f"total {results['total_s']:.0f}s; BLAS: {json.dumps(results['blas'], default=str)}")


if __name__ == "__main__":
    main()
