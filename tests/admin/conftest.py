"""Dashboard fixtures: the API's planted model bundles and catalog, plus a logged-in client.

The model, the bundles (``v1`` exact, ``v2`` Annoy) and the SQLite catalog are the API tests'
fixtures (:mod:`tests.api.conftest`), imported here so both suites build them the same way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from recsys.index.store import ModelStore
from tests.api.conftest import (  # noqa: F401  (fixtures reused by the dashboard tests)
    COLD_ALONE,
    COLD_ARTIST,
    COLD_COOC,
    FIRST,
    api_model,
    api_playlists,
    api_sqlite_file,
    build_app,
    source_store,
)

USER, PASSWORD = "admin", "correct horse battery staple"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: FlaskClient, path: str = "/admin/login") -> str:
    """The CSRF token of the client's session, read from a rendered form."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token in {path}"
    return match.group(1)


def login(client: FlaskClient, username: str = USER, password: str = PASSWORD,
          next_url: str | None = None):
    """Post the login form (with a valid CSRF token); returns the response."""
    data = {"username": username, "password": password, "csrf_token": csrf_from(client)}
    if next_url:
        data["next"] = next_url
    return client.post("/admin/login", data=data)


@pytest.fixture
def admin_app(build_app):  # noqa: F811  (the fixture imported above)
    """App on a copy of the catalog, ``v1`` current, with an admin password."""
    return build_app(ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)


@pytest.fixture
def anon(admin_app) -> FlaskClient:
    """A client that has not logged in."""
    return admin_app.test_client()


@pytest.fixture
def admin(admin_app) -> FlaskClient:
    """A logged-in client."""
    client = admin_app.test_client()
    assert login(client).status_code == 302
    return client


def post_form(client: FlaskClient, path: str, data: dict | None = None, page: str = "/admin/"):
    """POST ``data`` to ``path`` with the session's CSRF token (read from ``page``)."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_from(client, page)})


def submit_form(client: FlaskClient, action: str, data: dict | None = None,
                page: str = "/admin/models"):
    """POST the form of ``page`` whose action is ``action`` as a browser would: with its hidden
    fields (CSRF token, the versions it was shown for), then ``data``. An action the page has
    no form for (a forged or stale URL) gets the hidden fields of the page's first form that
    names the current version."""
    html = client.get(page).get_data(as_text=True)
    forms = re.findall(r'<form method="post" action="([^"]+)"(.*?)</form>', html, re.S)
    body = next((b for a, b in forms if a == action), None)
    if body is None:
        body = next(b for _, b in forms if 'name="expected_current"' in b)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    return client.post(action, data={**hidden, **(data or {})})


@pytest.fixture
def store(admin_app) -> ModelStore:
    """The model store of :func:`admin_app`."""
    return ModelStore(admin_app.config["MODEL_DIR"])


def add_rows(app, *rows) -> None:
    """Insert ORM ``rows`` into the app's database (committed)."""
    from recsys.db.session import make_engine, session_scope

    engine = make_engine(app.config["DATABASE_URL"])
    with session_scope(engine) as session:
        session.add_all(rows)
    engine.dispose()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``condition`` (e.g. a model loaded in the background) until true or fail."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
