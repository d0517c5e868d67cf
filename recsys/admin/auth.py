"""Dashboard login, logout, the login requirement, CSRF tokens and failed-login throttling.

* Credentials come from ``RECSYS_ADMIN_USER`` / ``RECSYS_ADMIN_PASSWORD`` and are compared with
  :func:`hmac.compare_digest`. Without a configured password nobody can log in.
* The session (Flask's signed cookie: HttpOnly, SameSite=Lax, Secure in production) holds a
  random token of a server-side session (:mod:`recsys.admin.sessions`) and a fingerprint of the
  password. A login lasts ``ADMIN_SESSION_HOURS`` at most and ends after ``ADMIN_IDLE_MINUTES``
  without a request; logging out ends it on every worker (a copied cookie stops working), and
  changing the password logs everybody out.
* Every POST under ``/admin`` must carry ``csrf_token`` equal to the session's token (400
  otherwise), including the login form.
* Failed logins are delayed (``ADMIN_LOGIN_DELAY`` seconds, default 1) and after
  ``MAX_FAILURES`` failures from one address within ``WINDOW`` that address is refused (429)
  until the window passes, counted in the database across every worker. Behind a reverse proxy
  set ``RECSYS_TRUSTED_PROXIES`` so that the address is the client's, not the proxy's.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from urllib.parse import unquote, urlsplit

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from recsys.admin import bp, sessions
from recsys.extensions import db

MAX_FAILURES = 5
WINDOW = timedelta(minutes=5)
PUBLIC_ENDPOINTS = {"admin.login", "admin.static"}
SESSION_USER, SESSION_AUTH, SESSION_CSRF = "admin_user", "admin_auth", "csrf_token"
SESSION_TOKEN = "admin_session"


def _max_age() -> timedelta:
    return timedelta(hours=float(current_app.config.get("ADMIN_SESSION_HOURS", 12)))


def _idle() -> timedelta:
    return timedelta(minutes=float(current_app.config.get("ADMIN_IDLE_MINUTES", 120)))


def password_configured() -> bool:
    """Whether an admin password is set (no password: nobody can log in)."""
    return bool(current_app.config.get("ADMIN_PASSWORD"))


def _fingerprint(password: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, password.encode(), hashlib.sha256).hexdigest()[:32]


def check_credentials(username: str, password: str) -> bool:
    """Constant-time check of the configured user name and password."""
    expected = current_app.config.get("ADMIN_PASSWORD")
    if not expected:
        return False
    user_ok = hmac.compare_digest(username.encode(), current_app.config["ADMIN_USERNAME"].encode())
    pass_ok = hmac.compare_digest(password.encode(), str(expected).encode())
    return user_ok and pass_ok


def current_user() -> str | None:
    """The logged-in user name, or None (logged out, expired, or the password changed)."""
    if "admin_user" not in g:
        g.admin_user = _session_user()
    return g.admin_user


def _session_user() -> str | None:
    user = session.get(SESSION_USER)
    expected = current_app.config.get("ADMIN_PASSWORD")
    if not user or not expected:
        return None
    if not hmac.compare_digest(str(session.get(SESSION_AUTH, "")), _fingerprint(str(expected))):
        return None
    if sessions.user_of(db.session, session.get(SESSION_TOKEN), _max_age(), _idle()) != user:
        return None
    return str(user)


def csrf_token() -> str:
    """This session's CSRF token (created on first use); templates put it in every form."""
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def _safe_next(target: str | None) -> str:
    """Only redirect to a path inside the dashboard (no open redirect)."""
    if target and not any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):  # no CR/LF...
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and parts.path.startswith("/admin/")
                and ".." not in unquote(parts.path).split("/")):  # no /admin/../api
            return target
    return url_for("admin.overview")


@bp.app_context_processor
def _template_globals() -> dict:
    return {"csrf_token": csrf_token, "current_user": current_user}


@bp.before_request
def _protect():
    """CSRF check on every POST, then the login requirement on every non-public page."""
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        token = session.get(SESSION_CSRF, "")
        if not token or not hmac.compare_digest(str(sent).encode(), str(token).encode()):
            if request.endpoint == "admin.login":  # a login form from an older session
                return _expired_login_form()
            abort(400, description="The form's security token is missing or out of date. "
                                   "Reload the page and try again.")
    if request.endpoint in PUBLIC_ENDPOINTS or current_user() is not None:
        return None
    if request.method == "GET":
        return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
    if request.endpoint == "admin.logout":  # already ended: say what the user asked for
        session.clear()
        flash("Logged out.", "info")
        return redirect(url_for("admin.login"))
    # a form sent after the session ended: nothing done; back to the page it came from after
    # the login (its own URL only takes POST: the login would land on a 405)
    flash("Your session had ended, so nothing was done: log in and send the form again.",
          "error")
    came_from = urlsplit(request.referrer or "")
    page = came_from.path + (f"?{came_from.query}" if came_from.query else "")
    return redirect(url_for("admin.login", next=_safe_next(page)))


def _expired_login_form():
    """A stale login form (another tab logged in, the browser restarted): already logged in
    -> go on; otherwise the form again, with a fresh token and nothing checked."""
    next_url = _safe_next(request.form.get("next"))
    if current_user() is not None:
        return redirect(next_url)
    cookie = current_app.config.get("SESSION_COOKIE_NAME", "session")
    if (current_app.config.get("SESSION_COOKIE_SECURE") and not request.is_secure
            and cookie not in request.cookies):
        # the browser keeps a Secure cookie from plain HTTP: every login would land here
        flash("Your browser did not send the session cookie back: in production the "
              "dashboard's cookie is Secure, so open it over HTTPS (behind a TLS proxy, set "
              "RECSYS_TRUSTED_PROXIES so that the app sees https).", "error")
    else:
        flash("The login form had expired. Please log in again.", "error")
    return render_template("admin/login.html", configured=password_configured(),
                           next_url=next_url, username=request.form.get("username", "")), 400


@bp.after_request
def security_headers(response):
    """No framing, no sniffing, no third-party resources, no caching of pages."""
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "admin.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Login form; with no password configured it explains how to set one."""
    configured = password_configured()
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url)
        return render_template("admin/login.html", configured=configured, next_url=next_url)
    if not configured:
        return render_template("admin/login.html", configured=False, next_url=next_url), 403
    client = request.remote_addr or "unknown"
    wait = sessions.retry_after(db.session, client, MAX_FAILURES, WINDOW)
    if wait:
        flash(f"Too many failed logins. Try again in {wait} seconds.", "error")
        return render_template("admin/login.html", configured=True, next_url=next_url), 429, {
            "Retry-After": str(int(wait))}
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    if not check_credentials(username, password):
        sessions.record_failure(db.session, client, WINDOW)
        time.sleep(float(current_app.config.get("ADMIN_LOGIN_DELAY", 1.0)))
        # never the typed name itself: it may be a password typed into the wrong field
        known = hmac.compare_digest(username.encode(),
                                    current_app.config["ADMIN_USERNAME"].encode())
        current_app.logger.warning("admin: failed login (%s) from %s",
                                   "wrong password" if known else "unknown user name", client)
        flash("Wrong user name or password.", "error")
        return render_template("admin/login.html", configured=True, next_url=next_url,
                               username=username), 401
    sessions.clear_failures(db.session, client)
    sessions.end(db.session, session.get(SESSION_TOKEN))  # a login replaces the one before
    session.clear()  # no session fixation: a fresh session and CSRF token after login
    session.permanent = True
    session[SESSION_USER] = username
    session[SESSION_AUTH] = _fingerprint(password)
    session[SESSION_TOKEN] = sessions.start(db.session, username, client, _max_age())
    g.pop("admin_user", None)
    csrf_token()
    current_app.logger.info("admin: %s logged in from %s", username, client)
    return redirect(next_url)


@bp.post("/logout")
def logout():
    """End the session here and on the server (a copy of the cookie no longer works)."""
    sessions.end(db.session, session.get(SESSION_TOKEN))
    current_app.logger.info("admin: %s logged out", current_user())
    session.clear()
    flash("Logged out.", "info")
    return redirect(url_for("admin.login"))
