"""Tiny reader for the Yes.com playlist files (research/bench only; never copies data)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def yes_dir() -> Path:
    """``$RECSYS_YES_DIR`` or ``<repo>/../shared/data/yes``."""
    return Path(os.environ.get("RECSYS_YES_DIR", REPO.parent / "shared" / "data" / "yes"))


def read_playlists(subset: str = "yes_big") -> list[list[int]]:
    """Playlists of ``<subset>/train.txt`` (2 header lines skipped)."""
    with open(yes_dir() / subset / "train.txt", encoding="ascii") as fh:
        lines = fh.read().splitlines()[2:]
    return [[int(t) for t in line.split()] for line in lines if line.strip()]


def read_tags(subset: str = "yes_big") -> dict[int, frozenset[int]]:
    """Song id -> tag id set (songs with ``#`` are omitted)."""
    out: dict[int, frozenset[int]] = {}
    with open(yes_dir() / subset / "tags.txt", encoding="ascii") as fh:
        for song, line in enumerate(fh):
            line = line.strip()
            if line and line != "#":
                out[song] = frozenset(int(t) for t in line.split())
    return out
