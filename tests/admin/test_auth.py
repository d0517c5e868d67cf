"""Login, logout, the login requirement, CSRF, throttling and the session cookie."""

from __future__ import annotations

import re

import pytest

from tests.admin.conftest import PASSWORD, USER, csrf_from, login, post_form

PAGES = ["/admin/", "/admin/models", "/admin/runs", "/admin/runs/1", "/admin/explore",
         "/admin/explore?q=song", "/admin/songs/1000", "/admin/map", "/admin/map.json"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_redirects_to_login(anon, path):
    resp = anon.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/admin/login?next=")


def test_login_page_and_static_files_are_public(anon):
    page = anon.get("/admin/login")
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert anon.get("/admin/static/admin.css").status_code == 200


def test_root_redirects_to_the_dashboard(anon):
    resp = anon.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/admin/")


def test_wrong_password_is_refused(anon):
    resp = login(anon, password="wrong")
    assert resp.status_code == 401
    assert "Wrong user name or password" in resp.get_data(as_text=True)
    assert anon.get("/admin/").status_code == 302
    assert login(anon, username="root").status_code == 401


def test_after_a_wrong_password_the_password_field_has_focus(anon):
    fresh = anon.get("/admin/login").get_data(as_text=True)
    assert re.search(r'name="username"[^>]*autofocus', fresh)
    resp = anon.post("/admin/login", data={"username": USER, "password": PASSWORD + "x",
                                           "csrf_token": csrf_from(anon)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert re.search(r'name="password"[^>]*autofocus', html)
    assert not re.search(r'name="username"[^>]*autofocus', html)


def test_a_failed_login_never_logs_what_was_typed(anon, caplog):
    typed = "Secret-Typed-In-The-Wrong-Field"
    with caplog.at_level("WARNING"):
        assert login(anon, username=typed, password="x").status_code == 401
        assert login(anon, password="wrong").status_code == 401
    assert typed not in caplog.text
    assert "failed login (unknown user name)" in caplog.text
    assert "failed login (wrong password)" in caplog.text


def test_right_password_logs_in_and_follows_next(anon):
    resp = login(anon, next_url="/admin/models")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/models"
    page = anon.get("/admin/models")
    assert page.status_code == 200 and USER in page.get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin/", "/api/x",
                                    "/admin/../api/health", "/admin/%2e%2e/api/health",
                                    "/admin/\r\nX-Injected: 1", "/admin/\x7f"])
def test_next_never_leaves_the_dashboard(anon, target):
    resp = login(anon, next_url=target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/"


def test_logout(admin):
    assert admin.get("/admin/").status_code == 200
    resp = post_form(admin, "/admin/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/login"
    assert admin.get("/admin/").status_code == 302


def test_changing_the_password_ends_sessions(admin, admin_app):
    admin_app.config["ADMIN_PASSWORD"] = "a new one"
    assert admin.get("/admin/").status_code == 302


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_csrf_missing_or_invalid_is_400(admin, store, token):
    data = {} if token is None else {"csrf_token": token}
    resp = admin.post("/admin/models/v2/promote", data=data)
    assert resp.status_code == 400
    assert "security token" in resp.get_data(as_text=True)
    assert resp.mimetype == "text/html"
    assert store.current_version() == "v1"
    assert admin.post("/admin/logout", data=data).status_code == 400
    assert admin.get("/admin/").status_code == 200  # still logged in


def test_login_form_needs_csrf_too(anon):
    resp = anon.post("/admin/login", data={"username": USER, "password": PASSWORD})
    assert resp.status_code == 400


def test_no_password_configured_nobody_logs_in(build_app):
    client = build_app(ADMIN_PASSWORD=None, ADMIN_LOGIN_DELAY=0).test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    assert "No admin password is configured" in page and "RECSYS_ADMIN_PASSWORD" in page
    assert 'name="password"' not in page
    with client.session_transaction() as session:  # the page has no form to read it from
        session["csrf_token"] = "token"
    for password in ("", "admin", PASSWORD):
        resp = client.post("/admin/login", data={
            "username": USER, "password": password, "csrf_token": "token"})
        assert resp.status_code == 403
    assert client.get("/admin/").status_code == 302


def test_repeated_failures_are_throttled(anon):
    for _ in range(5):
        assert login(anon, password="guess").status_code == 401
    resp = login(anon)  # even the right password waits for the window to pass
    assert resp.status_code == 429 and "Too many failed logins" in resp.get_data(as_text=True)
    wait = int(resp.headers["Retry-After"])  # what the page says, for clients and proxies
    assert 0 < wait <= 300 and f"Try again in {wait} seconds" in resp.get_data(as_text=True)


def test_failed_login_is_delayed(build_app):
    import time

    client = build_app(ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0.2).test_client()
    started = time.perf_counter()
    assert login(client, password="nope").status_code == 401
    assert time.perf_counter() - started >= 0.2


def test_session_cookie_flags(anon):
    resp = login(anon)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_in_production(build_app):
    app = build_app(ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0, ENV_NAME="production")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    form = {"username": USER, "password": PASSWORD, "csrf_token": "t"}
    # over plain HTTP a browser keeps the Secure cookie to itself: the login form says why
    html = app.test_client().post("/admin/login", data=form).get_data(as_text=True)
    assert "did not send the session cookie back" in html and "HTTPS" in html
    secure = app.test_client().post("/admin/login", data=form, base_url="https://localhost")
    assert "The login form had expired" in secure.get_data(as_text=True)


def test_pages_send_security_headers(admin):
    resp = admin.get("/admin/")
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_a_stale_login_form_shows_the_form_again(anon):
    anon.get("/admin/login")  # a session with a token; the other tab's form had another one
    resp = anon.post("/admin/login", data={"username": USER, "password": PASSWORD,
                                           "csrf_token": "from-an-older-session"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "The login form had expired" in html
    assert 'name="password"' in html and anon.get("/admin/").status_code == 302  # not logged in


def test_a_stale_login_form_when_already_logged_in_goes_on(admin):
    resp = admin.post("/admin/login", data={"username": USER, "password": "whatever",
                                            "csrf_token": "stale", "next": "/admin/runs"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/admin/runs"


@pytest.mark.parametrize("path", ["/admin/models/v2/promote", "/admin/models/rollback",
                                  "/admin/logout"])
def test_posts_need_a_login_even_with_a_valid_token(anon, store, path):
    token = csrf_from(anon, "/admin/login")  # a real token of a logged-out session
    resp = anon.post(path, data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/admin/login")
    assert store.current_version() == "v1"


def test_unexpected_errors_are_an_html_page_without_details(admin, monkeypatch):
    from recsys.admin import queries

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(queries, "model_rows", boom)
    resp = admin.get("/admin/models")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 500 and resp.mimetype == "text/html"
    assert "server log" in html and "secret internals" not in html
