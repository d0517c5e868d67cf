"""The overview's counts on a large PostgreSQL catalog are estimates, and say so."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from recsys.db import counts
from recsys.db.session import make_engine
from tests.admin.conftest import PASSWORD, USER, login


def _client(build_app, url: str):
    app = build_app(url=url, ADMIN_USERNAME=USER, ADMIN_PASSWORD=PASSWORD, ADMIN_LOGIN_DELAY=0)
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def _overview(client) -> str:
    resp = client.get("/admin/")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _tile(html: str, label: str) -> str:
    match = re.search(r'<span class="value">(.*?)</span><span class="label">' + label, html)
    assert match, label
    return match.group(1)


def test_exact_counts_carry_no_mark(build_app, db_url):
    html = _overview(_client(build_app, db_url))
    assert "≈" not in html
    assert re.fullmatch(r"[\d,]+", _tile(html, "playlist items"))


@pytest.mark.postgres
def test_estimated_counts_are_marked(build_app, db_url, monkeypatch):
    if not db_url.startswith("postgresql"):
        pytest.skip("estimates are PostgreSQL's")
    client = _client(build_app, db_url)
    exact = _tile(_overview(client), "playlist items")
    engine = make_engine(db_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    monkeypatch.setattr(counts, "EXACT_BELOW", 1)
    html = _overview(client)
    items = _tile(html, "playlist items")
    assert items.startswith('<span class="approx" title="estimated from PostgreSQL')
    assert re.sub(r"<[^>]+>|≈|&#8239;|\u202f", "", items) == exact  # analysed: the same number
    assert "≈" in _tile(html, "playlists") and "≈" in _tile(html, "songs")
