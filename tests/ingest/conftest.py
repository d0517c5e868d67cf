"""Helpers for the ingest tests: fixture paths, row counts, CLI invocation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "fixtures"
TABLES = ("songs", "tags", "song_tags", "playlists", "playlist_items", "import_runs")


def counts(engine) -> dict[str, int]:
    """Row count of every catalog table."""
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


@pytest.fixture
def fixtures() -> Path:
    """``data/fixtures`` (hand-written, committed)."""
    return FIXTURES


@pytest.fixture
def yes_tiny(tmp_path) -> Path:
    """A writable copy of the tiny Yes.com-format fixture directory."""
    target = tmp_path / "yes_tiny"
    shutil.copytree(FIXTURES / "yes_tiny", target)
    return target


@pytest.fixture
def app_engine(app):
    """Engine on the ``app`` fixture's (SQLite) database."""
    from recsys.db.session import make_engine

    engine = make_engine(app.config["DATABASE_URL"])
    yield engine
    engine.dispose()


CSV_HEADER = "playlist_id,position,song_id,title,artist\n"


def write_csv(tmp_path, name: str, playlists: dict[str, list[str]]) -> Path:
    """A CSV import file of ``playlists`` (external id -> song ids; titles and artists
    derived from the song ids)."""
    rows = [f"{pid},{i},{sid},Title {sid},Artist {sid}\n"
            for pid, songs in playlists.items() for i, sid in enumerate(songs)]
    path = tmp_path / name
    path.write_text(CSV_HEADER + "".join(rows), encoding="utf-8")
    return path
