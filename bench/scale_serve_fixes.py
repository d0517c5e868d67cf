"""The three serving fixes of docs/benchmarks.md §17, before and after side by side in one run.

Usage::

    .venv/bin/python bench/scale_serve_fixes.py \
        --database-url sqlite:///var/helper-scale2/scale.db --var-dir var/helper-scale2/var

On the served model of that store and its database, alternating the former code (written out
here) and the current one, best of ``--rounds``, ms per call:

* the same-artist fallback of one source (``SqlCatalog.same_artist``): ``source IN (…)`` as
  an indexable condition against the current filter;
* each row's source code (``sources.source_codes``): every row decoded and ``np.unique`` on
  Python strings against ``StringColumn.codes``;
* the sum of several seeds' co-occurrence rows (``csr.row_sums``): sorting the entries against
  the dense row, for the most played and for random seeds;
* (not adopted) the build's ``similar`` lists over an exact index: one scan per seed against
  ``ExactIndex.query_batch`` (64 seeds a matrix product).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def best(call, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times) * 1000


def row_sums_sorted(table, seeds):
    """``csr.row_sums`` before the dense path (several seeds)."""
    indptr, indices, data = table.indptr, table.indices, table.data
    parts = [(indptr[s], indptr[s + 1]) for s in seeds.tolist()]
    cols = np.concatenate([indices[a:b] for a, b in parts])
    vals = np.concatenate([data[a:b] for a, b in parts])
    cols, inverse = np.unique(cols, return_inverse=True)
    vals = np.bincount(inverse, weights=vals, minlength=len(cols)).astype(data.dtype)
    keep = vals != 0
    return cols[keep].astype(np.int64), vals[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--var-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.update({"DATABASE_URL": args.database_url,
                       "RECSYS_VAR_DIR": str(args.var_dir.resolve()),
                       "RECSYS_LOG_LEVEL": "WARNING", "OPENBLAS_NUM_THREADS": "1"})
    from sqlalchemy import func, or_, select
    from sqlalchemy.orm import Session

    from recsys import create_app
    from recsys.api import deps
    from recsys.db.models import Song
    from recsys.extensions import db
    from recsys.recommend.catalog import SqlCatalog
    from recsys.recommend.csr import row_sums

    app = create_app()
    model = deps.warm(app)
    if model is None:
        sys.exit("no model is current")
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {len(model):,} songs, load average "
          f"{os.getloadavg()}\n\n| what | before ms | after ms | ratio |\n|---|---:|---:|---:|")

    def row(name: str, before, after) -> None:
        b, a = best(before, args.rounds), best(after, args.rounds)
        print(f"| {name} | {b:,.2f} | {a:,.2f} | {b / a:,.1f}× |", flush=True)

    order = np.argsort(-np.asarray(model.counts), kind="stable")
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        artist, source = session.execute(select(Song.artist, Song.source).where(
            Song.id == int(model.song_ids[order[len(order) // 2]]))).one()

        def artist_before():
            names, lowered = [artist], [artist.lower()]
            query = select(Song.id).where(
                or_(Song.artist.in_(names), func.lower(Song.artist).in_(lowered)),
                Song.available, Song.source.in_([source])).order_by(Song.id).limit(50)
            return list(session.scalars(query))

        catalog = SqlCatalog(session)
        after = catalog.same_artist([artist], limit=50, sources={source})
        assert artist_before() == after
        row(f"same-artist fallback of one source ({artist!r})", artist_before,
            lambda: catalog.same_artist([artist], limit=50, sources={source}))
    column = model.columns["source"]

    def codes_before():
        names = column.take(np.arange(len(model)))
        return np.unique(np.asarray(names, dtype=object), return_inverse=True)

    row("each row's source code", codes_before, column.codes)
    rng = np.random.default_rng(0)
    table = model.cooc_scoring
    for name, seeds in (("100 most played", order[:100]), ("50 most played", order[:50]),
                        ("10 most played", order[:10]),
                        ("10 random", rng.choice(len(model), 10, replace=False)),
                        ("2 random", rng.choice(len(model), 2, replace=False))):
        seeds = np.asarray(seeds, dtype=np.int64)
        entries = int(sum(table.indptr[s + 1] - table.indptr[s] for s in seeds.tolist()))
        old, new = row_sums_sorted(table, seeds), row_sums(table, seeds)
        assert np.array_equal(old[0], new[0]) and np.array_equal(old[1], new[1])
        row(f"co-occurrence rows of {name} seeds ({entries:,} entries)",
            lambda s=seeds: row_sums_sorted(table, s), lambda s=seeds: row_sums(table, s))
    index = model.indexes["similar"]
    if index.backend == "exact":  # not adopted: the build's lists, one scan each or batched
        model.neighbours = {}
        seeds = order[:512]
        vectors = np.asarray(model.in_vectors[seeds])
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        one = lambda: [model.candidates("similar", np.array([s]), 32, set())  # noqa: E731
                       for s in seeds.tolist()]
        row("512 `similar` lists (not adopted): one scan each / 64 a matrix product", one,
            lambda: index.query_batch(unit, 33, chunk=64))


if __name__ == "__main__":
    main()
