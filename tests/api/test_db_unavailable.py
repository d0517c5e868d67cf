"""A database that is down, or busy past the request's statement timeout: requests that need it
get a retryable 503 (JSON on the API, the dashboard's page under /admin), the rest still work."""

from __future__ import annotations

import socket
import time

import pytest
from sqlalchemy import text

from tests.admin.conftest import csrf_from
from tests.api.conftest import COLD_COOC, FIRST, app_for, copy_versions, songs_locked


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def down_app(tmp_path, source_store):
    store = copy_versions(source_store, tmp_path / "var" / "models")
    store.set_current("v1")
    url = f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/gone"
    return app_for(url, tmp_path / "var", ADMIN_PASSWORD="a long password",
                   ADMIN_LOGIN_DELAY=0)


def test_api_answers_from_the_model_and_503s_what_needs_the_database(down_app):
    client = down_app.test_client()
    known = client.get(f"/api/songs/{FIRST}/similar?k=3")
    assert known.status_code == 200 and len(known.get_json()["items"]) == 3
    started = time.monotonic()
    for path in (f"/api/songs/{COLD_COOC}/similar", "/api/songs?q=love", f"/api/songs/{FIRST}"):
        resp = client.get(path)
        assert resp.status_code == 503, (path, resp.get_data(as_text=True))
        assert resp.headers["Retry-After"] == "5"
        assert "database is unavailable" in resp.get_json()["error"]["message"]
    assert time.monotonic() - started < 10  # refused connections fail fast
    assert client.get("/api/health").status_code == 200


def test_dashboard_shows_its_own_503_page(down_app):
    client = down_app.test_client()
    token = csrf_from(client)
    resp = client.post("/admin/login", data={"username": "admin", "password": "a long password",
                                             "csrf_token": token})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5"
    assert "Database unavailable" in page and "<!doctype html>" in page.lower()


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)  # statement timeouts are a PostgreSQL setting
def test_a_locked_table_times_out_requests_not_jobs(build_app, db_url):
    app = build_app(url=db_url, DB_STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    from recsys.extensions import db

    with app.test_request_context(), db.engine.connect() as conn, conn.begin():
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    # a job (no request): not limited
    with app.app_context(), db.engine.connect() as conn, conn.begin():
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
    with songs_locked(db_url):
        started = time.monotonic()
        resp = client.get("/api/songs?q=song")
        assert resp.status_code == 503 and time.monotonic() - started < 5
        assert client.get(f"/api/songs/{FIRST}/similar").status_code == 200  # model only
    assert client.get("/api/songs?q=song").status_code == 200
