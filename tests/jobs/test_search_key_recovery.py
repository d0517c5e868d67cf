"""Songs inserted without a search key (by a release that did not know ``songs.search_key``,
e.g. the old servers while ``db upgrade`` ran) are given one by the next job's recovery, and
the API's and the dashboard's searches find them from then on."""

from __future__ import annotations

import logging

from sqlalchemy import text

from recsys.db.search_key import song_search_key
from recsys.db.session import make_engine
from recsys.jobs.recovery import recover
from tests.admin.conftest import PASSWORD, USER, login

OLD_RELEASE_INSERT = ("INSERT INTO songs (source, external_id, title, artist) "
                      "VALUES ('radio', :ext, :title, :artist)")  # no search_key: ''


def test_recovery_computes_the_keys_an_old_release_left_empty(db_url, make_app, store,
                                                              caplog):
    app = make_app(db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text(OLD_RELEASE_INSERT), [
            {"ext": "1", "title": "Jóga", "artist": "Björk"},
            {"ext": "2", "title": "Hoppípolla", "artist": "Sigur Rós"}])
        assert conn.execute(text("SELECT COUNT(*) FROM songs WHERE search_key = ''")
                            ).scalar() == 2

    def found(q):
        return [s["title"] for s in client.get(f"/api/songs?q={q}").get_json()["items"]]

    assert found("bjork") == [] and found("joga") == []
    with caplog.at_level(logging.INFO, logger="recsys.jobs"):
        recover(engine, store)
    assert "computed the search keys of 2 song(s) written without one" in caplog.text
    with engine.connect() as conn:
        keys = dict(conn.execute(text("SELECT title, search_key FROM songs")).all())
    assert keys == {"Jóga": song_search_key("Jóga", "Björk"),
                    "Hoppípolla": song_search_key("Hoppípolla", "Sigur Rós")}
    assert found("bjork") == ["Jóga"] and found("sigur ros") == ["Hoppípolla"]
    assert login(client).status_code == 302
    page = client.get("/admin/explore?q=bjork").get_data(as_text=True)
    assert "Jóga" in page
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recsys.jobs"):
        recover(engine, store)  # nothing left: one query, nothing logged
    assert "search key" not in caplog.text and "songs.search_key" not in caplog.text
    engine.dispose()


def test_a_train_run_fills_them_in(loaded, runner, client):
    """The recovery runs at the start of every ``train``/``retrain`` (under the job lock)."""
    from tests.jobs.test_cli import QUICK

    engine = make_engine(loaded.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text(OLD_RELEASE_INSERT), {"ext": "x", "title": "Svefn-g-englar",
                                                "artist": "Sigur Rós"})
    engine.dispose()
    assert client.get("/api/songs?q=svefn").get_json()["items"] == []
    result = runner.invoke(args=["train", *QUICK, "--backend", "exact"])
    assert result.exit_code == 0, result.output
    items = client.get("/api/songs?q=svefn-g-englar").get_json()["items"]
    assert [s["artist"] for s in items] == ["Sigur Rós"]
