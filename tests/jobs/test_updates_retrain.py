"""``retrain --update``, and what is served for a song re-titled by an import between two
models: the database's title at once (song look-up, search, the dashboard's song page), the
model's answers keep the bundle's title until the next model is promoted."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from recsys.api.deps import holder
from recsys.index.store import ModelStore
from tests.admin.conftest import PASSWORD, USER, login
from tests.jobs.test_cli import QUICK

HEADER = "playlist_id,position,song_id,title,artist\n"


@pytest.fixture
def engine_of(loaded):
    from recsys.db.session import make_engine

    engine = make_engine(loaded.config["DATABASE_URL"])
    yield engine
    engine.dispose()


def _model_song(engine) -> tuple[int, str, str]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            "SELECT s.id, s.external_id, s.title FROM playlist_items i JOIN songs s "
            "ON s.id = i.song_id ORDER BY i.playlist_id, i.position LIMIT 1")).one())


def test_retitled_song_is_served_from_the_database_then_from_the_next_model(
        loaded, runner, client, engine_of, tmp_path):
    assert runner.invoke(args=["retrain", *QUICK, "--backend", "exact"]).exit_code == 0
    sid, ext, old = _model_song(engine_of)
    first = client.get(f"/api/songs/{sid}/similar?k=3").get_json()
    assert first["song"]["title"] == old
    path = tmp_path / "fix.csv"
    path.write_text(HEADER + f"fix-1,0,{ext},Retitled Song,Someone New\n")
    result = runner.invoke(args=["import", "csv", str(path), "--source", "sample", "--update"])
    assert result.exit_code == 0 and "1 songs updated" in result.output, result.output
    # the database: at once
    assert client.get(f"/api/songs/{sid}").get_json()["title"] == "Retitled Song"
    found = client.get("/api/songs?q=retitled").get_json()["items"]
    assert [s["id"] for s in found] == [sid]
    loaded.config.update(ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)
    assert login(client).status_code == 302
    page = client.get(f"/admin/songs/{sid}").get_data(as_text=True)
    assert "<h1><bdi>Retitled Song</bdi>" in page
    # the model's answers: the bundle's metadata, until the next model
    same = client.get(f"/api/songs/{sid}/similar?k=3").get_json()
    assert same["model_version"] == first["model_version"] and same["song"]["title"] == old
    trained = runner.invoke(args=["train", *QUICK, "--backend", "exact", "--promote"])
    assert trained.exit_code == 0, trained.output
    holder(loaded).refresh(wait=True)  # what the worker's watcher does
    after = client.get(f"/api/songs/{sid}/similar?k=3").get_json()
    assert after["model_version"] != first["model_version"]
    assert (after["song"]["title"], after["song"]["artist"]) == ("Retitled Song", "Someone New")


def _items(engine, playlist: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT s.external_id FROM playlist_items i JOIN playlists p ON p.id = i.playlist_id "
            "JOIN songs s ON s.id = i.song_id WHERE p.source = 'fresh' AND p.external_id = :p "
            "ORDER BY i.position"), {"p": playlist}).scalars())


def test_retrain_update_applies_to_its_imports(loaded, runner, engine_of, tmp_path):
    v1, v2 = tmp_path / "v1.csv", tmp_path / "v2.csv"
    v1.write_text(HEADER + "f-1,0,n1,One,Newcomer\nf-1,1,n2,Two,Newcomer\n"
                  "f-2,0,n2,,\nf-2,1,n3,Three,Newcomer\n")
    v2.write_text(HEADER + "f-1,0,n2,,\nf-1,1,n1,One (Edit),Newcomer\n"
                  "f-2,0,n2,,\nf-2,1,n3,,\n")
    retrain = ["retrain", *QUICK, "--backend", "exact", "--tolerance", "1"]
    assert runner.invoke(args=[*retrain, "--import", f"csv:{v1}:fresh"]).exit_code == 0
    kept = runner.invoke(args=[*retrain, "--import", f"csv:{v2}:fresh"])
    assert kept.exit_code == 0, kept.output
    assert "(import with --update to replace their items" in kept.output
    assert _items(engine_of, "f-1") == ["n1", "n2"]
    result = runner.invoke(args=[*retrain, "--import", f"csv:{v2}:fresh", "--update"])
    assert result.exit_code == 0, result.output
    assert "1 songs updated (title/artist from the file: 'n1')" in result.output
    assert "1 playlists replaced (items from the file: 'f-1'; 2 items written)" in result.output
    assert _items(engine_of, "f-1") == ["n2", "n1"] and _items(engine_of, "f-2") == ["n2", "n3"]
    assert len(ModelStore(loaded.config["MODEL_DIR"]).versions()) == 3
    alone = runner.invoke(args=["retrain", *QUICK, "--update"])
    assert alone.exit_code == 2 and "--update applies to the files of --import" in alone.output


def test_retrain_help_describes_update(runner):
    shown = " ".join(runner.invoke(args=["retrain", "--help"]).output.split())
    assert "--update For every --import: the file is authoritative" in shown
