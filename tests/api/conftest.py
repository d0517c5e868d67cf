"""API fixtures: a planted model in two bundle versions and a database holding its songs.

Song ids are the planted ids shifted by 1000 (ids are positive in the API). The database
also holds songs the model has never seen, for cold start through the API:

* ``COLD_COOC`` shares playlists with model songs (fallback ``cooccurrence``),
* ``COLD_ARTIST`` is by an artist of the model, in no playlist (``same_artist``),
* ``COLD_ALONE`` has an unknown artist and no playlist (``popularity``).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from recsys.db.models import Playlist, PlaylistItem, Song, SongTag, Tag
from recsys.db.session import make_engine, session_scope
from recsys.index.build import build_bundle
from recsys.index.store import ModelStore
from tests.ml.conftest import make_planted
from tests.recommend.conftest import songs_for

OFFSET = 1000
COLD_COOC, COLD_ARTIST, COLD_ALONE = 9001, 9002, 9003
FIRST = OFFSET + 0  # planted song 0 of genre 0


@pytest.fixture(scope="session")
def api_playlists() -> list[list[int]]:
    return [[s + OFFSET for s in p] for p in make_planted(n_playlists=300, seed=5)]


@pytest.fixture(scope="session")
def api_model(api_playlists):
    from recsys.ml.settings import TrainSettings
    from recsys.ml.train import train

    settings = TrainSettings(vector_size=16, window=2, negative=5, sample=0.0, epochs=15,
                             workers=1, seed=1, next_transition_weight=0.5,
                             next_cooc_weight=0.2, next_pop_weight=0.1)
    return train(api_playlists, settings)


@pytest.fixture(scope="session")
def source_store(tmp_path_factory, api_model, api_playlists) -> ModelStore:
    """``v1`` (exact backend) and ``v2`` (Annoy) of the same planted model."""
    store = ModelStore(tmp_path_factory.mktemp("api-store"))
    songs = songs_for(api_model.song_ids)
    for version, backend in (("v1", "exact"), ("v2", "annoy")):
        build_bundle(store, api_model, api_playlists, songs, backend=backend, version=version,
                     metrics={"hr@10": 0.5 if version == "v1" else 0.6})
    return store


def copy_versions(source: ModelStore, root: Path, versions=("v1", "v2")) -> ModelStore:
    """A fresh store at ``root`` holding copies of ``versions``."""
    store = ModelStore(root)
    for version in versions:
        shutil.copytree(source.path(version), store.versions_dir / version)
    return store


def populate(url: str, api_model, api_playlists) -> None:
    """Songs of the model, cold-start songs, playlists and a few tags."""
    songs = songs_for(api_model.song_ids)
    engine = make_engine(url)
    with session_scope(engine) as session:
        for sid, meta in songs.items():
            session.add(Song(id=sid, **meta))
        session.add(Song(id=COLD_COOC, source="planted", external_id="cold-cooc",
                         title="Brand New Tune", artist="Newcomer"))
        session.add(Song(id=COLD_ARTIST, source="planted", external_id="cold-artist",
                         title="Late Single", artist=songs[FIRST]["artist"]))
        session.add(Song(id=COLD_ALONE, source="other", external_id="x%_y",
                         title="Björk Ünïcode 100% Song", artist="Nobody Knows"))
        session.flush()
        for n, playlist in enumerate(api_playlists[:50]):
            items = [*playlist, COLD_COOC] if n < 5 else playlist
            session.add(Playlist(id=n + 1, source="planted", external_id=f"p{n}"))
            session.flush()
            for pos, sid in enumerate(items):
                session.add(PlaylistItem(playlist_id=n + 1, position=pos, song_id=sid))
        session.add_all([Tag(id=1, name="rock"), Tag(id=2, name="calm")])
        session.flush()
        session.add_all([SongTag(song_id=FIRST, tag_id=1), SongTag(song_id=FIRST, tag_id=2)])
    engine.dispose()


def app_for(url: str, var_dir: Path, **overrides):
    """An app like the ``make_app`` fixture's, for fixtures of any scope."""
    from recsys import create_app
    from recsys.config import TestConfig

    return create_app(TestConfig(DATABASE_URL=url, VAR_DIR=str(var_dir),
                                 MODEL_DIR=str(var_dir / "models"), **overrides))


@pytest.fixture(scope="session")
def api_sqlite_file(tmp_path_factory, sqlite_template, api_model, api_playlists) -> Path:
    """A migrated SQLite database with the catalog, populated once per session."""
    path = tmp_path_factory.mktemp("api-db") / "catalog.db"
    shutil.copy(sqlite_template, path)
    populate(f"sqlite:///{path}", api_model, api_playlists)
    return path


@pytest.fixture
def build_app(tmp_path, source_store, api_model, api_playlists, api_sqlite_file):
    """Factory: an app on ``url`` (None: a copy of the SQLite catalog) and ``current``."""

    def _build(url: str | None = None, current: str | None = "v1", **overrides):
        if url is None:
            target = tmp_path / "catalog.db"
            shutil.copy(api_sqlite_file, target)
            url = f"sqlite:///{target}"
        else:
            populate(url, api_model, api_playlists)
        store = copy_versions(source_store, tmp_path / "var" / "models")
        if current:
            store.set_current(current)
        return app_for(url, tmp_path / "var", **overrides)

    return _build


@pytest.fixture
def api_app(build_app):
    """App on a copy of the SQLite catalog with ``v1`` current."""
    return build_app()


@pytest.fixture
def api(api_app):
    """Test client of :func:`api_app`."""
    return api_app.test_client()


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory, source_store, api_sqlite_file):
    """One read-only client per module (for long tables of requests)."""
    root = tmp_path_factory.mktemp("shared-api")
    shutil.copy(api_sqlite_file, root / "catalog.db")
    copy_versions(source_store, root / "var" / "models").set_current("v1")
    return app_for(f"sqlite:///{root / 'catalog.db'}", root / "var").test_client()


@pytest.fixture
def model_store(api_app) -> ModelStore:
    return ModelStore(api_app.config["MODEL_DIR"])


@pytest.fixture(scope="module")
def clients(request, tmp_path_factory, source_store, api_sqlite_file):
    """The OpenAPI contract tests' read-only clients (with a model, none, no database)."""
    from tests.api.contract_client import make_clients  # it imports this module

    root = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    return make_clients(root, source_store, api_sqlite_file)


@pytest.fixture(scope="module")
def contract(clients):
    """The served OpenAPI document, for checking the answers of ``clients`` against it."""
    from tests.api.contract import Contract

    return Contract(clients["ok"].get("/api/openapi.json").get_json())


@contextmanager
def songs_locked(db_url: str) -> Iterator[threading.Event]:
    """PostgreSQL: ``songs`` held in ACCESS EXCLUSIVE mode by another connection (what a big
    import's foreign-key swap does to readers) until the yielded event is set or the block
    ends."""
    from sqlalchemy import text

    locker = make_engine(db_url)
    held, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with locker.connect() as conn, conn.begin():
            conn.execute(text("LOCK TABLE songs IN ACCESS EXCLUSIVE MODE"))
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold_lock)
    thread.start()
    try:
        assert held.wait(10)
        yield release
    finally:
        release.set()
        thread.join(30)
        locker.dispose()
