"""Helpers for the bench/ script tests: the script listing, a runner, synthetic Yes.com data.

The benchmarks read real data by default; here they get the synthetic sample
(:func:`recsys.ingest.sample.generate_sample`) written in the Yes.com layout, so a tiny real
run needs no real data and finishes in seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def bench_files() -> list[str]:
    """File names of every ``bench/*.py`` (collected at import: a new script is covered)."""
    return sorted(p.name for p in BENCH.glob("*.py"))


def run_bench(script: str, *args: str, env: dict[str, str] | None = None,
              timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``bench/<script>`` with this interpreter from the repository root."""
    full_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", **(env or {})}
    return subprocess.run([sys.executable, str(BENCH / script), *args], cwd=REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def explain(proc: subprocess.CompletedProcess) -> str:
    """The tail of a failed run's output, for assertion messages."""
    return f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def write_yes_dir(target: Path, n_playlists: int, seed: int = 0) -> Path:
    """The synthetic sample as a Yes.com directory (``train.txt`` with its two header lines,
    ``song_hash.txt``, ``tags.txt``, ``tag_hash.txt``); song ids are the sample's song order."""
    from recsys.ingest.sample import generate_sample

    data = generate_sample(n_playlists, seed=seed)
    ids = {s.external_id: i for i, s in enumerate(data.songs)}
    tag_ids = {t: i for i, t in enumerate(sorted({t for s in data.songs for t in s.tags}))}
    plays = Counter(ids[s] for pl in data.playlists for s in pl.songs)
    target.mkdir(parents=True)
    (target / "song_hash.txt").write_text(
        "".join(f"{i}\t{s.title}\t{s.artist}\n" for i, s in enumerate(data.songs)))
    (target / "tag_hash.txt").write_text("".join(f"{i}, {t}\n" for t, i in tag_ids.items()))
    (target / "tags.txt").write_text(
        "".join(" ".join(str(tag_ids[t]) for t in s.tags) + "\n" for s in data.songs))
    header = (" ".join(str(1000 + i) for i in range(len(data.songs))) + " \n"
              + " ".join(str(plays[i]) for i in range(len(data.songs))) + " \n")
    (target / "train.txt").write_text(header + "".join(
        " ".join(str(ids[s]) for s in pl.songs) + " \n" for pl in data.playlists))
    return target


@pytest.fixture(scope="session")
def synthetic_yes(tmp_path_factory) -> Path:
    """A ``RECSYS_YES_DIR`` whose ``yes_big`` and ``yes_small`` are the synthetic sample
    (600 and 300 playlists of 640 songs)."""
    root = tmp_path_factory.mktemp("yes")
    write_yes_dir(root / "yes_big", 600)
    write_yes_dir(root / "yes_small", 300, seed=1)
    return root
