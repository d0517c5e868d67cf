"""Peak memory and time of parsing a large CSV/JSONL export, this checkout against another
(e.g. the release before streaming), each parse in its own process, alternated.

Usage::

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/import_memory.py [--other /tmp/before] [--playlists 200000]
        [--items 20] [--runs 2]

Writes a synthetic export (``--playlists`` x ``--items`` rows, 200,000 songs; plain CSV, gzip
CSV and JSONL) into a temporary directory, then runs ``parse_csv`` / ``parse_jsonl`` on each
in a fresh interpreter per tree and prints peak RSS (``ru_maxrss``) and seconds, best of
``--runs``. Only the parse is measured: the database write holds the same parsed rows in both.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from recsys.ingest.tabular import parse_csv, parse_jsonl
parse = parse_jsonl if sys.argv[2].endswith(".jsonl") else parse_csv
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
catalog = parse(sys.argv[2], "bench")
took = time.perf_counter() - started
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, base, took, len(catalog.playlists))
"""


FIELDS = ("playlist_id", "position", "song_id", "title", "artist")


def write_exports(tmp: Path, playlists: int, items: int) -> list[Path]:
    rng = random.Random(1)
    csv_path, jsonl_path = tmp / "export.csv", tmp / "export.jsonl"
    with csv_path.open("w") as out_csv, jsonl_path.open("w") as out_jsonl:
        out_csv.write(",".join(FIELDS) + "\n")
        for p in range(playlists):
            for i in range(items):
                s = rng.randrange(200_000)
                row = [f"pl{p}", i, f"trk_{s:07d}", f"Song number {s}", f"Artist {s % 5000}"]
                out_csv.write(",".join(map(str, row)) + "\n")
                out_jsonl.write(json.dumps(dict(zip(FIELDS, row, strict=True))) + "\n")
    gz_path = tmp / "export.csv.gz"
    with csv_path.open("rb") as src, gzip.open(gz_path, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 2**20)
    return [csv_path, gz_path, jsonl_path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, help="another checkout to compare with")
    parser.add_argument("--playlists", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    trees = [("this checkout", REPO)] + ([("other", args.other)] if args.other else [])
    tmp = Path(tempfile.mkdtemp(prefix="bench-import-memory-"))
    try:
        files = write_exports(tmp, args.playlists, args.items)
        best: dict[tuple[str, str], tuple[float, float]] = {}
        for _ in range(args.runs):
            for path in files:
                for name, tree in trees:
                    out = subprocess.run([sys.executable, "-c", PROBE, str(tree), str(path)],
                                         capture_output=True, text=True, check=True, cwd=tree)
                    peak, _base, took, _n = out.stdout.split()
                    key = (path.name, name)
                    old = best.get(key, (float("inf"), float("inf")))
                    best[key] = (min(old[0], int(peak) / 1024), min(old[1], float(took)))
        print("| file (MB) | tree | peak RSS (MB) | parse (s) |")
        print("|---|---|---:|---:|")
        for path in files:
            for name, _tree in trees:
                peak, took = best[(path.name, name)]
                size = path.stat().st_size / 1e6
                print(f"| {path.name} ({size:,.0f}) | {name} | {peak:,.0f} | {took:.1f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
