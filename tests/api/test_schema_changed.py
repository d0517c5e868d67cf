"""A schema changed under running servers (``db downgrade`` while they serve): requests that
read the songs get a 503 saying so (JSON on the API, a page on the dashboard), /api/ready is
not ready, one ERROR line per state change; ``db upgrade`` again and everything works, with no
restart. They were 500s with a traceback each, and ready stayed 200."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy import event, exc, text

from recsys.db import migrate
from recsys.db.schema_guard import SchemaGuard, is_schema_error
from recsys.db.session import make_engine
from recsys.errors import schema_guard
from tests.admin.conftest import PASSWORD, USER, login
from tests.api.conftest import COLD_COOC, FIRST

SONG_READS = ("/api/songs?q=song", f"/api/songs/{FIRST}", f"/api/songs/{COLD_COOC}/similar")


def _statements(engine, into: list[str]):
    def before(_conn, _cursor, statement, *_args) -> None:
        into.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    return lambda: event.remove(engine, "before_cursor_execute", before)


def test_downgrade_under_a_running_app_503s_then_upgrade_recovers(build_app, db_url, caplog):
    app = build_app(url=db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD,
                    ADMIN_LOGIN_DELAY=0)
    head = migrate.head()
    client, admin = app.test_client(), app.test_client()
    assert login(admin).status_code == 302
    for _ in range(6):  # past psycopg's prepare threshold: prepared statements in the pool
        assert all(client.get(path).status_code == 200 for path in SONG_READS)
    guard = schema_guard(app)
    guard.mismatch_ttl = guard.ok_ttl = 0  # check on every error: still one log line

    migrate.downgrade(db_url, "0005")
    caplog.clear()
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            for path in SONG_READS:
                resp = client.get(path)
                assert resp.status_code == 503, (path, resp.get_data(as_text=True))
                assert resp.headers["Retry-After"] == "5"
                message = resp.get_json()["error"]["message"]
                assert f"(database at 0005, code expects {head}): restart the servers" in message
        assert client.get(f"/api/songs/{FIRST}/similar?k=3").status_code == 200  # the model's
        ready = client.get("/api/ready")
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
        assert ready.get_json()["error"]["message"] == f"not ready: {message}"
        page = admin.get("/admin/")
        html = page.get_data(as_text=True)
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert "Database schema changed" in html and "code expects" in html
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().split(";")[0] for r in errors] == [message]
    assert not any(r.exc_info for r in caplog.records)  # no traceback per request

    migrate.upgrade(db_url)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="recsys.db"):
        assert client.get("/api/ready").status_code == 200
        assert all(client.get(path).status_code == 200 for path in SONG_READS)
        assert admin.get("/admin/").status_code == 200
    assert [r.levelname for r in caplog.records] == ["INFO"]  # "... works again", once


def test_the_happy_path_never_reads_the_revision(api_app):
    client = api_app.test_client()
    statements: list[str] = []
    stop = _statements(schema_guard(api_app).engine, statements)
    try:
        for path in (*SONG_READS, "/api/ready", "/api/songs/999999"):
            client.get(path)
    finally:
        stop()
    assert statements and not any("alembic_version" in s for s in statements)


def _missing_column() -> exc.OperationalError:
    return exc.OperationalError("SELECT songs.gone FROM songs", {},
                                sqlite3.OperationalError("no such column: songs.gone"))


def test_guard_checks_only_schema_errors_and_caches_its_verdict(sqlite_url):
    engine = make_engine(sqlite_url)
    now = [100.0]
    guard = SchemaGuard(engine, mismatch_ttl=5, ok_ttl=1, clock=lambda: now[0])
    statements: list[str] = []
    stop = _statements(engine, statements)
    try:
        locked = exc.OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
        assert guard.explain(locked) is None and guard.explain(ValueError("x")) is None
        assert statements == []  # not a schema error: nothing read
        # at the code's revision: a real bug, not a mismatch (the caller's 500)
        assert guard.explain(_missing_column()) is None
        checks = len(statements)
        assert checks and guard.explain(_missing_column()) is None
        assert len(statements) == checks  # believed for ok_ttl
        # newer code upgraded the database: its revision is unknown here
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '0042_future'"))
        now[0] += 1
        mismatch = guard.explain(_missing_column())
        assert mismatch is not None and mismatch.found == "0042_future"
        assert mismatch.expected == migrate.head() and "0042_future" in mismatch.message
        checks = len(statements)
        now[0] += 4.9
        assert guard.current() == mismatch and len(statements) == checks  # believed 5 s
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"),
                         {"v": migrate.head()})
        now[0] += 0.2
        assert guard.current() is None and len(statements) > checks  # stale: checked again
        checks = len(statements)
        assert guard.current() is None and len(statements) == checks  # none known: no query
    finally:
        stop()
        engine.dispose()


def test_schema_errors_are_told_from_others():
    assert is_schema_error(_missing_column())
    table = exc.OperationalError("x", {}, sqlite3.OperationalError("no such table: installation"))
    assert is_schema_error(table)
    assert not is_schema_error(exc.IntegrityError("x", {}, sqlite3.IntegrityError("UNIQUE")))
    assert not is_schema_error(RuntimeError("no such column"))


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_postgres_undefined_column_and_table_are_schema_errors(engine):
    for sql in ("SELECT gone FROM songs", "SELECT 1 FROM gone"):
        with pytest.raises(exc.DBAPIError) as raised, engine.connect() as conn:
            conn.execute(text(sql))
        assert is_schema_error(raised.value), raised.value.orig.sqlstate
    with pytest.raises(exc.DBAPIError) as raised, engine.connect() as conn:
        conn.execute(text("SELECT 1/0"))
    assert not is_schema_error(raised.value)


def test_below_the_sessions_table_the_dashboard_still_answers_its_pages(build_app, db_url):
    app = build_app(url=db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD,
                    ADMIN_LOGIN_DELAY=0)
    admin = app.test_client()
    assert login(admin).status_code == 302
    migrate.downgrade(db_url, "0002")  # drops admin_sessions: every logged-in page reads it
    page = admin.get("/admin/")
    assert page.status_code == 503 and "database at 0002" in page.get_data(as_text=True)
    # an unrouted URL's page reads the login for its header: rendered without it, not a crash
    missing = admin.get("/admin/no-such-page")
    assert missing.status_code == 404 and "<!doctype html>" in missing.get_data(as_text=True)
