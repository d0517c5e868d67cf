"""Pre-building the external-id look-up after a process's first model load: what it costs.

Usage::

    .venv/bin/python bench/external_prebuild.py                    # synthetic, 250,000 songs
    .venv/bin/python bench/external_prebuild.py --bundle DIR       # a committed bundle
    .venv/bin/python bench/external_prebuild.py --songs 100000 --rounds 3

Each round starts two fresh processes, one per mode, in alternating order: ``lazy`` (the
look-up is built by the first request by external id, as before) and ``prebuild`` (the holder
builds it in a thread of its own right after the first swap). Each process loads the bundle
through a :class:`~recsys.recommend.holder.ModelHolder` as a worker does, then at once answers
``--requests`` one-seed ``similar`` scans by catalog id (what a worker's first requests pay
while the look-up is being built), waits for the look-up, times the first request by external
id, then loads a second version of the same bundle (a promotion: the holder builds the next
model's look-up before the swap, as requests used the served one's). Prints per mode the
medians of: the first load, the requests' median and worst latency, when the look-up was
ready, the anonymous RSS then, the first request by external id, the anonymous RSS after it,
the second load and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

MODES = ("lazy", "prebuild")


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _store_of(bundle: Path, root: Path):
    """A store whose versions ``a`` and ``b`` link to ``bundle`` (``a`` current)."""
    from recsys.index.store import ModelStore

    store = ModelStore(root)
    store.versions_dir.mkdir(parents=True, exist_ok=True)
    for version in ("a", "b"):
        link = store.versions_dir / version
        if not link.exists():
            link.symlink_to(bundle.resolve(), target_is_directory=True)
    store.set_current("a")
    return store


def child(args) -> None:
    """One process, one mode: prints one JSON line."""
    import numpy as np

    from recsys.recommend.holder import ModelHolder

    store = _store_of(args.bundle, args.work_dir / f"store-{os.getpid()}")
    holder = ModelHolder(store, poll_seconds=3600)
    holder.prebuild_external_ids = args.child == "prebuild"
    start = time.perf_counter()
    model = holder.get()
    loaded = time.perf_counter()
    rng = np.random.default_rng(0)
    times = []
    for row in rng.integers(0, len(model), args.requests):
        t = time.perf_counter()
        model.candidates("similar", np.array([row]), 10, set())
        times.append(time.perf_counter() - t)
    if holder.prebuilder is not None:
        holder.prebuilder.join()
    ready = time.perf_counter()
    rss_ready = _status_kb("RssAnon") / 1024
    row = int(rng.integers(0, len(model)))
    song = model.song(row)
    t = time.perf_counter()
    found = model.external_ids().get(song["source"], [song["external_id"]])
    first_external = time.perf_counter() - t
    assert found == [int(model.song_ids[row])], found
    rss_used = _status_kb("RssAnon") / 1024
    store.set_current("b")
    t = time.perf_counter()
    holder.refresh(wait=True)
    second_load = time.perf_counter() - t
    assert holder.model is not model and holder.model.has_external_ids
    print(json.dumps({
        "songs": len(model), "load_ms": (loaded - start) * 1e3,
        "req_median_ms": statistics.median(times) * 1e3, "req_max_ms": max(times) * 1e3,
        "ready_ms": (ready - loaded) * 1e3 if holder.prebuilder is not None else None,
        "first_external_ms": first_external * 1e3, "second_load_ms": second_load * 1e3,
        "rss_anon_ready_mb": rss_ready, "rss_anon_used_mb": rss_used,
        "peak_rss_mb": _status_kb("VmHWM") / 1024,
    }), flush=True)


def synthetic(args) -> Path:
    from external_ids import synthetic_bundle

    return synthetic_bundle(args.work_dir / "models", args.songs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", type=Path, help="a committed bundle directory (default: a "
                    "synthetic one of --songs songs, built once under --work-dir)")
    ap.add_argument("--songs", type=int, default=250_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench" / "prebuild")
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.child:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        child(args)
        return
    bundle = args.bundle or synthetic(args)
    results: dict[str, list[dict]] = {m: [] for m in MODES}
    for r in range(args.rounds):
        for mode in MODES if r % 2 == 0 else MODES[::-1]:
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--bundle", str(bundle),
                 "--requests", str(args.requests), "--work-dir", str(args.work_dir)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "RECSYS_LOG_LEVEL": "WARNING"})
            results[mode].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(mode, out.stdout.strip().splitlines()[-1], flush=True)
    keys = [k for k in results["lazy"][0] if k != "songs"]
    print(f"\n{results['lazy'][0]['songs']:,} songs, median of {args.rounds} processes per mode")
    print(f"| {'':<20} | " + " | ".join(f"{m:>9}" for m in MODES) + " |")
    for key in keys:
        cells = []
        for mode in MODES:
            values = [v[key] for v in results[mode] if v[key] is not None]
            cells.append(f"{statistics.median(values):9.2f}" if values else f"{'-':>9}")
        print(f"| {key:<20} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
