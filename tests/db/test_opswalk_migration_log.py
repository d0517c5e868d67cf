"""Found by an operator walk (upgrade 0006 -> 0008): ``python -m recsys db upgrade`` showed
nothing of migration 0007's backfill (its progress lines go to ``alembic.runtime.migration``,
which reached no handler of the app), on the terminal or in ``recsys.log``."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cli(var: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO), "RECSYS_VAR_DIR": str(var),
           "DATABASE_URL": f"sqlite:///{var / 'recsys.db'}"}
    return subprocess.run([sys.executable, "-m", "recsys", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, check=False, timeout=120)


def test_db_upgrade_shows_and_logs_the_migrations_progress(tmp_path):
    var = tmp_path / "var"
    assert _cli(var, "db", "upgrade", "0006").returncode == 0
    with sqlite3.connect(var / "recsys.db") as conn:
        conn.executemany("INSERT INTO songs (id, source, external_id, title, artist) "
                         "VALUES (?, 's', ?, ?, ?)",
                         [(1, "1", "Halo", "Beyoncé"), (2, "2", "Eple", "Røyksopp"),
                          (3, "3", "Dr. Feelgood", "Mötley Crüe")])

    up = _cli(var, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert "database at revision" in up.stdout
    log = (var / "logs" / "recsys.log").read_text(encoding="utf-8")
    for text in (up.stderr, log):
        assert "Running upgrade 0006 -> 0007" in text
        assert "songs.search_key: computing the keys of 3 songs" in text
        assert "songs.search_key: 3 songs in" in text

    down = _cli(var, "db", "downgrade", "0006")
    assert down.returncode == 0, down.stderr
    assert "Running downgrade 0008 -> 0007" in down.stderr
