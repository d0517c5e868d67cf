"""Server-side dashboard sessions: logout and expiry end a login on every worker; failed
logins are counted across workers; behind a trusted proxy the client's address counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from recsys.db.models import AdminSession, LoginFailure
from recsys.db.session import make_engine, session_scope
from tests.admin.conftest import PASSWORD, USER, login, post_form
from tests.api.conftest import app_for


@pytest.fixture
def other_worker(admin_app, tmp_path):
    """A second app process's view: same database and secret key, nothing else shared."""
    return app_for(admin_app.config["DATABASE_URL"], tmp_path / "var",
                   SECRET_KEY=admin_app.config["SECRET_KEY"], ADMIN_USERNAME=USER,
                   ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    target.set_cookie("session", cookie.value)


def _sql(app, statement):
    engine = make_engine(app.config["DATABASE_URL"])
    with session_scope(engine) as session:
        result = session.execute(statement)
        value = result.scalar() if statement.is_select else None
    engine.dispose()
    return value


def test_logout_ends_the_session_on_every_worker(admin, admin_app, other_worker):
    copy = other_worker.test_client()
    _copy_cookie(admin, copy)
    assert copy.get("/admin/").status_code == 200  # the same login, served by another worker
    assert post_form(admin, "/admin/logout").status_code == 302
    resp = copy.get("/admin/models")
    assert resp.status_code == 302 and "/admin/login" in resp.headers["Location"]
    assert _sql(admin_app, select(func.count()).select_from(AdminSession)) == 0


def test_a_login_has_an_absolute_lifetime(admin, admin_app):
    assert admin.get("/admin/").status_code == 200
    _sql(admin_app, update(AdminSession).values(
        created_at=datetime.now(UTC) - timedelta(hours=12, minutes=1)))
    assert admin.get("/admin/").status_code == 302  # although used a moment ago


def test_a_login_ends_when_idle(admin, admin_app):
    _sql(admin_app, update(AdminSession).values(
        last_seen_at=datetime.now(UTC) - timedelta(minutes=121)))
    assert admin.get("/admin/").status_code == 302


def test_activity_keeps_an_idle_login_alive(admin, admin_app):
    _sql(admin_app, update(AdminSession).values(
        last_seen_at=datetime.now(UTC) - timedelta(minutes=100)))
    assert admin.get("/admin/").status_code == 200
    seen = _sql(admin_app, select(AdminSession.last_seen_at))
    assert datetime.now(UTC) - seen.replace(tzinfo=UTC) < timedelta(minutes=1)


def test_the_database_holds_no_usable_token(admin, admin_app):
    token_hash = _sql(admin_app, select(AdminSession.token_hash))
    with admin.session_transaction() as session:
        token = session["admin_session"]
    assert token not in token_hash and len(token_hash) == 64


def test_failed_logins_count_across_workers(anon, other_worker):
    second = other_worker.test_client()
    for client in (anon, second, anon, second, anon):
        assert login(client, password="guess").status_code == 401
    assert login(second).status_code == 429
    assert login(anon).status_code == 429


def test_a_successful_login_clears_the_failures(anon, admin_app):
    for _ in range(4):
        login(anon, password="guess")
    assert login(anon).status_code == 302
    assert _sql(admin_app, select(func.count()).select_from(LoginFailure)) == 0


def test_behind_a_trusted_proxy_each_client_is_throttled_alone(build_app):
    app = build_app(ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0, TRUSTED_PROXIES=1)
    attacker, operator = app.test_client(), app.test_client()
    attacker.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.9"
    operator.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.7"
    for _ in range(6):
        login(attacker, password="guess")
    assert login(attacker).status_code == 429
    assert login(operator).status_code == 302


def test_without_trusted_proxies_forwarded_headers_are_ignored(build_app):
    app = build_app(ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    for n in range(5):  # a client cannot dodge the throttle by inventing addresses
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"192.0.2.{n}"
        login(client, password="guess")
    assert login(client).status_code == 429


def test_the_login_throttle_lifts_after_its_window(anon, admin_app):
    for _ in range(5):
        login(anon, password="guess")
    assert login(anon).status_code == 429
    _sql(admin_app, update(LoginFailure).values(at=datetime.now(UTC) - timedelta(minutes=6)))
    assert login(anon).status_code == 302


def test_sessions_and_throttle_on_both_databases(build_app, db_url, tmp_path):
    app = build_app(url=db_url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD,
                    ADMIN_LOGIN_DELAY=0)
    client, copy = app.test_client(), app.test_client()
    assert login(client).status_code == 302
    _copy_cookie(client, copy)
    assert copy.get("/admin/").status_code == 200
    _sql(app, update(AdminSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=5)))
    assert client.get("/admin/").status_code == 200  # time-zone-aware arithmetic on both
    assert post_form(client, "/admin/logout").status_code == 302
    assert copy.get("/admin/").status_code == 302
    for _ in range(5):
        login(client, password="guess")
    assert login(client).status_code == 429
