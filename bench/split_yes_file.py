"""Cut a Yes.com subset's train.txt into an importable directory and a held-out test file.

Usage::

    .venv/bin/python bench/split_yes_file.py --subset yes_big --order file --out var/bench/tail
    .venv/bin/python bench/split_yes_file.py --subset yes_big --order random --seed 0 \\
        --out var/bench/rand

writes ``OUT/<subset>/`` (song_hash.txt, tags.txt, tag_hash.txt copied, train.txt with the
kept playlists) and ``OUT/test.txt`` (the held-out playlists, same format, header line 2
recounted), for ``recsys import yes OUT/<subset>`` and ``recsys evaluate --test OUT/test.txt``.
``--order file`` holds out the last ``--frac`` of the lines (a "later export"); ``random``
holds out a seeded random ``--frac`` of them. Everything goes under the ignored ``var/``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _yesdata import yes_dir  # noqa: E402


def write_train(path: Path, header: str, n_songs: int, lines: list[str]) -> None:
    """A train.txt: header line 1 as given, line 2 recounted for ``lines``."""
    counts = [0] * n_songs
    for line in lines:
        for token in line.split():
            counts[int(token)] += 1
    path.write_text(f"{header}\n{' '.join(map(str, counts))} \n" + "\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subset", default="yes_big")
    ap.add_argument("--order", choices=["file", "random"], default="file")
    ap.add_argument("--frac", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    src = yes_dir() / args.subset
    lines = (src / "train.txt").read_text().split("\n")[:-1]
    header, body = lines[0], lines[2:]
    n_test = int(len(body) * args.frac)
    if args.order == "file":
        test_idx = set(range(len(body) - n_test, len(body)))
    else:
        test_idx = set(random.Random(args.seed).sample(range(len(body)), n_test))
    keep = [line for i, line in enumerate(body) if i not in test_idx]
    test = [line for i, line in enumerate(body) if i in test_idx]
    target = args.out / args.subset
    target.mkdir(parents=True, exist_ok=True)
    for name in ("song_hash.txt", "tags.txt", "tag_hash.txt"):
        shutil.copy(src / name, target / name)
    n_songs = len(header.split())
    write_train(target / "train.txt", header, n_songs, keep)
    write_train(args.out / "test.txt", header, n_songs, test)
    print(f"{target}: {len(keep):,} playlists; {args.out / 'test.txt'}: {len(test):,}")


if __name__ == "__main__":
    main()
