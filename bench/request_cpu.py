"""CPU time per ``/similar`` request through the whole Flask app, in process (no HTTP server).

Usage (compare two versions of the code side by side on the same model and database)::

    git worktree add /tmp/oldtree <commit>
    for tree in . /tmp/oldtree . /tmp/oldtree; do
        (cd $tree && /path/to/.venv/bin/python /path/to/bench/request_cpu.py \\
            --model-dir var/bench/yesbig/models --database-url sqlite:///var/bench/yesbig/recsys.db)
    done

Runs in the current directory's ``recsys`` (so each tree measures its own code): the Flask test
client sends 300 warm-up then ``--requests`` ``GET /api/songs/<id>/similar?k=10`` for random
songs of the current model, three passes, and prints the best pass's CPU microseconds per
request. Far less noisy than an HTTP load test on shared cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--requests", type=int, default=3000)
    args = ap.parse_args()
    sys.path.insert(0, os.getcwd())
    os.environ.update(RECSYS_MODEL_DIR=str(args.model_dir.resolve()),
                      DATABASE_URL=args.database_url, RECSYS_LOG_LEVEL="WARNING",
                      RECSYS_VAR_DIR=str(Path("/tmp") / f"request-cpu-{os.getpid()}"),
                      RECSYS_MODEL_POLL_SECONDS="5")
    import numpy as np

    from recsys import create_app
    from recsys.api.deps import warm

    app = create_app()
    client, model = app.test_client(), warm(app)
    ids = np.random.default_rng(0).choice(model.song_ids, args.requests)
    for song in ids[:300]:
        client.get(f"/api/songs/{int(song)}/similar?k=10")
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        for song in ids:
            assert client.get(f"/api/songs/{int(song)}/similar?k=10").status_code == 200
        best = min(best, (time.process_time() - start) / len(ids) * 1e6)
    print(f"{os.getcwd()}: {best:.0f} us CPU per request")


if __name__ == "__main__":
    main()
